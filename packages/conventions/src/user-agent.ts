import Bowser from 'bowser';
import { posthogOsName, type DeviceType } from './os.js';

/** What a user agent says, under the names posthog-js gives the same browser, OS and device. */
export interface UserAgentFacts {
  browser?: string;
  browserVersion?: string;
  os?: string;
  osVersion?: string;
  deviceType?: DeviceType;
}

/**
 * Parses a user agent with bowser and names the result as posthog-js's `detectBrowser`/`detectOS` do,
 * so imported history groups with what PostHog's web SDK sends: Chrome on iOS is `Chrome iOS` (it
 * is WebKit, and bowser calls it Chrome), iOS Safari `Mobile Safari`, macOS `Mac OS X`, Windows
 * versions by name (`10`, `7`). The browser version is posthog-js's major.minor (`120`, `17.1`), as
 * text. Results are remembered: a migration sees the same few thousand agents millions of times, and
 * one parse costs about 20 µs.
 */
export function parseUserAgent(ua: string): UserAgentFacts {
  // Real agents are a few hundred characters; a longer one is not an agent worth the regexes' time
  // (a line can hold a megabyte of it), nor a place in memory.
  if (ua.length > MAX_USER_AGENT) return NOTHING;
  const known = recent.get(ua);
  if (known) return known;
  const facts = parse(ua);
  if (recent.size >= 4096) recent.clear();
  recent.set(ua, facts);
  return facts;
}
const recent = new Map<string, UserAgentFacts>();
/** The longest user agent parsed. */
export const MAX_USER_AGENT = 2048;
const NOTHING: UserAgentFacts = Object.freeze({});

function parse(ua: string): UserAgentFacts {
  const out: UserAgentFacts = {};
  let r: Bowser.Parser.ParsedResult;
  try {
    r = Bowser.parse(ua);
  } catch {
    // An agent bowser cannot read says nothing; the event keeps its other properties.
    return out;
  }
  const browser = browserName(r.browser.name, ua);
  if (browser) {
    out.browser = browser;
    const version = majorMinor(r.browser.version);
    if (version) out.browserVersion = version;
  }
  if (r.os.name) {
    const os = posthogOsName(r.os.name);
    out.os = os;
    const version = os === 'Windows' ? r.os.versionName : threeParts(r.os.version);
    if (version) out.osVersion = version;
  }
  const type = DEVICE_TYPES[r.platform.type ?? ''];
  if (type) out.deviceType = type;
  return out;
}

/** bowser's browser names where posthog-js names the same browser otherwise; the rest agree. */
function browserName(name: string | undefined, ua: string): string | undefined {
  // posthog-js looks for the Facebook app before anything else: bowser sees its WebKit view as Safari.
  if (ua.includes('FBIOS')) return 'Facebook Mobile';
  if (!name) return undefined;
  switch (name) {
    case 'Chrome': return ua.includes('CriOS') ? 'Chrome iOS' : 'Chrome';
    case 'Firefox': return ua.includes('FxiOS') ? 'Firefox iOS' : 'Firefox';
    case 'Safari': return ua.includes('Mobile') ? 'Mobile Safari' : 'Safari';
    case 'Opera': return ua.includes('Mini') ? 'Opera Mini' : 'Opera';
    case 'Internet Explorer': return ua.includes('IEMobile') || ua.includes('WPDesktop') ? 'Internet Explorer Mobile' : 'Internet Explorer';
    case 'Samsung Internet for Android': return 'Samsung Internet';
    case 'Android Browser': return 'Android Mobile';
    case 'Yandex Browser': return 'Yandex';
    case 'NAVER Whale Browser': return 'Whale';
    default: return name;
  }
}

const DEVICE_TYPES: Record<string, DeviceType | undefined> = { mobile: 'Mobile', tablet: 'Tablet', desktop: 'Desktop' };

/** `120.0.6099.119` → `120`, `17.1` → `17.1`: the number posthog-js reads, written as text. */
function majorMinor(version: string | undefined): string | undefined {
  const m = version ? /^(\d+(?:\.\d+)?)/.exec(version) : null;
  return m ? String(parseFloat(m[1]!)) : undefined;
}

/** `17.1` → `17.1.0`, as posthog-js writes iOS, Android and macOS versions; one part stays one part. */
function threeParts(version: string | undefined): string | undefined {
  if (!version) return undefined;
  const parts = version.split('.');
  return parts.length === 2 ? `${version}.0` : version;
}
