/**
 * posthog-js's `$browser` names (`detectBrowser` in its user-agent-utils) for the names other tools
 * write for the same browsers: ua-parser's families (`Chrome Mobile iOS`, `Mobile Safari UI/WKWebView`,
 * `IE`, `Edge Mobile`), which Heap and others export, and the short forms several tools use. PostHog's
 * browser breakdowns group by the exact text, so history must carry the names the web SDK sends.
 * posthog-js tells browsers apart by what their agents share: every Chromium browser that says
 * `Chrome` is `Chrome` (Chrome Mobile, the Android WebView, Yandex), iOS's WebKit views are
 * `Mobile Safari`. Keys are lower case.
 */
const BROWSER_NAMES = new Map<string, string>([
  ['chrome', 'Chrome'], ['chrome mobile', 'Chrome'], ['chrome mobile webview', 'Chrome'], ['chrome webview', 'Chrome'], ['mobile chrome', 'Chrome'],
  ['chromium', 'Chrome'], ['headlesschrome', 'Chrome'], ['yandex browser', 'Chrome'],
  ['chrome ios', 'Chrome iOS'], ['chrome mobile ios', 'Chrome iOS'], ['crios', 'Chrome iOS'],
  ['safari', 'Safari'], ['mobile safari', 'Mobile Safari'], ['mobile safari ui/wkwebview', 'Mobile Safari'], ['safari mobile', 'Mobile Safari'], ['ios safari', 'Mobile Safari'],
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

/** `$browser` under posthog-js's name (`Chrome Mobile iOS` → `Chrome iOS`, `IE` → `Internet Explorer`); a name it does not know is kept as written. */
export function posthogBrowserName(browser: string): string {
  if (CANONICAL.has(browser)) return browser;
  return BROWSER_NAMES.get(browser.trim().toLowerCase()) ?? browser;
}
