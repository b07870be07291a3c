/**
 * posthog-js's `$browser` names (`detectBrowser` in its user-agent-utils) for the names other tools
 * write for the same browsers: ua-parser's families (`Chrome Mobile iOS`, `Mobile Safari UI/WKWebView`,
 * `IE`, `Edge Mobile`), which Heap and others export, GA4's (`Edge`, `Safari (in-app)`, `Android
 * Webview`, `YaBrowser`), and the short forms several tools use. PostHog's
 * browser breakdowns group by the exact text, so history must carry the names the web SDK sends.
 * posthog-js tells browsers apart by what their agents share: every Chromium browser that says
 * `Chrome` is `Chrome` (Chrome Mobile, the Android WebView, Yandex), iOS's WebKit views are
 * `Mobile Safari`. Keys are lower case.
 */
const BROWSER_NAMES = new Map<string, string>([
  ['chrome', 'Chrome'], ['chrome mobile', 'Chrome'], ['chrome mobile webview', 'Chrome'], ['chrome webview', 'Chrome'], ['mobile chrome', 'Chrome'],
  ['chromium', 'Chrome'], ['headlesschrome', 'Chrome'], ['yandex browser', 'Chrome'], ['yabrowser', 'Chrome'], ['android webview', 'Chrome'],
  ['whale browser', 'Chrome'], ['amazon silk', 'Chrome'], ['silk', 'Chrome'],
  ['chrome ios', 'Chrome iOS'], ['chrome mobile ios', 'Chrome iOS'], ['crios', 'Chrome iOS'],
  ['safari', 'Safari'], ['mobile safari', 'Mobile Safari'], ['mobile safari ui/wkwebview', 'Mobile Safari'], ['safari (in-app)', 'Mobile Safari'], ['safari mobile', 'Mobile Safari'], ['ios safari', 'Mobile Safari'],
  ['firefox', 'Firefox'], ['firefox mobile', 'Firefox'], ['mobile firefox', 'Firefox'], ['firefox ios', 'Firefox iOS'], ['fxios', 'Firefox iOS'],
  ['edge', 'Microsoft Edge'], ['microsoft edge', 'Microsoft Edge'], ['edge mobile', 'Microsoft Edge'], ['edg', 'Microsoft Edge'],
  ['ie', 'Internet Explorer'], ['msie', 'Internet Explorer'], ['internet explorer', 'Internet Explorer'],
  ['ie mobile', 'Internet Explorer Mobile'], ['iemobile', 'Internet Explorer Mobile'], ['internet explorer mobile', 'Internet Explorer Mobile'],
  ['opera', 'Opera'], ['opera mobile', 'Opera'], ['opera mini', 'Opera Mini'],
  ['samsung internet', 'Samsung Internet'], ['samsung browser', 'Samsung Internet'], ['samsungbrowser', 'Samsung Internet'],
  ['uc browser', 'UC Browser'], ['ucbrowser', 'UC Browser'],
  ['android', 'Android Mobile'], ['android browser', 'Android Mobile'], ['android mobile', 'Android Mobile'],
  ['blackberry', 'BlackBerry'], ['blackberry webkit', 'BlackBerry'], ['konqueror', 'Konqueror'], ['facebook mobile', 'Facebook Mobile'],
]);
const CANONICAL = new Set(BROWSER_NAMES.values());

/**
 * The names above for a program posthog-js cannot tell from the browser it names it as: an app's web
 * view (`Chrome` on Android, `Mobile Safari` on iOS) and Chromium browsers whose agents say `Chrome`.
 * Such a name says more than `$browser` does, so a source keeps it beside it.
 */
const FOLDED = new Set(['chrome mobile webview', 'chrome webview', 'android webview', 'mobile safari ui/wkwebview', 'safari (in-app)', 'yandex browser', 'yabrowser', 'whale browser', 'amazon silk', 'silk']);

/**
 * On iOS every browser is WebKit, and posthog-js names them by what their agents add: Chrome's
 * `CriOS` is `Chrome iOS`, Firefox's `FxiOS` `Firefox iOS`, Safari's `Mobile` `Mobile Safari`. A
 * source naming the browser alone (GA4: `Chrome` on an iPhone) gets these from its OS.
 */
const ON_IOS = new Map([['Chrome', 'Chrome iOS'], ['Firefox', 'Firefox iOS'], ['Safari', 'Mobile Safari']]);

/**
 * `$browser` under posthog-js's name (`Chrome Mobile iOS` → `Chrome iOS`, `IE` → `Internet Explorer`),
 * given the OS (under PostHog's name) where the source names the browser without its platform; a
 * name it does not know is kept as written.
 */
export function posthogBrowserName(browser: string, os?: string): string {
  const name = CANONICAL.has(browser) ? browser : BROWSER_NAMES.get(browser.trim().toLowerCase()) ?? browser;
  return os === 'iOS' ? ON_IOS.get(name) ?? name : name;
}

/** Whether posthog-js's name for `browser` is another program's (an app's web view is `Chrome`): the source's name is then worth keeping. */
export function posthogFoldsBrowser(browser: string): boolean {
  return FOLDED.has(browser.trim().toLowerCase());
}
