/**
 * PostHog's operating system names, as its SDKs and its user-agent parsing write `$os`. Sources and
 * SDKs spell them many ways (`macOS`, `ios`, `android`, `Mac`); the person and web analytics views
 * group by the exact text, so one OS must have one name. Keys are lower case.
 */
const OS_NAMES = new Map<string, string>([
  ['ios', 'iOS'], ['iphone os', 'iOS'], ['iphone', 'iOS'], ['ipados', 'iPadOS'],
  ['android', 'Android'],
  ['mac os x', 'Mac OS X'], ['macos', 'Mac OS X'], ['mac os', 'Mac OS X'], ['os x', 'Mac OS X'], ['osx', 'Mac OS X'], ['macosx', 'Mac OS X'], ['mac', 'Mac OS X'], ['macintosh', 'Mac OS X'],
  ['windows', 'Windows'], ['win32', 'Windows'], ['win64', 'Windows'], ['microsoft windows', 'Windows'],
  ['windows phone', 'Windows Phone'],
  ['linux', 'Linux'],
  ['chrome os', 'Chrome OS'], ['chromeos', 'Chrome OS'], ['chromium os', 'Chrome OS'], ['cros', 'Chrome OS'],
  ['tvos', 'tvOS'], ['watchos', 'watchOS'], ['visionos', 'visionOS'],
]);
const CANONICAL = new Set(OS_NAMES.values());

/** `$os` under PostHog's name (`macOS` → `Mac OS X`, `ios` → `iOS`); a name it does not know is kept as written. */
export function posthogOsName(os: string): string {
  // Nearly every value is already canonical: no lower-casing, no allocation.
  if (CANONICAL.has(os)) return os;
  return OS_NAMES.get(os.trim().toLowerCase()) ?? os;
}

/** The form factor PostHog's `$device_type` names: what its SDKs send and its filters offer. */
export type DeviceType = 'Mobile' | 'Desktop' | 'Tablet';

/**
 * `$device_type` implied by an OS (already under PostHog's name), as PostHog's Amplitude importer maps
 * it: Android and iOS are phones, Windows, Mac OS X and Linux desktops. Chrome OS is a desktop and
 * iPadOS a tablet by the same reasoning; an OS that runs on several form factors implies none.
 */
export function deviceTypeOfOs(os: string): DeviceType | undefined {
  return DEVICE_BY_OS.get(os);
}
const DEVICE_BY_OS = new Map<string, DeviceType>([
  ['iOS', 'Mobile'], ['Android', 'Mobile'], ['Windows Phone', 'Mobile'], ['iPadOS', 'Tablet'],
  ['Windows', 'Desktop'], ['Mac OS X', 'Desktop'], ['Linux', 'Desktop'], ['Chrome OS', 'Desktop'],
]);
