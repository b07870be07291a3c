export { applyConventions, type ConventionOptions } from './apply.js';
export { asPersonSees } from './person-view.js';
export { posthogOsName, deviceTypeOfOs, type DeviceType } from './os.js';
export { posthogBrowserName, posthogFoldsBrowser } from './browser.js';
export { parseUserAgent, MAX_USER_AGENT, type UserAgentFacts } from './user-agent.js';
export { urlParts, referringDomain } from './url.js';
export { promote, personPromotion, personPromotionPairs, initialName, PERSON_PROPERTIES, GEOIP_PROPERTIES, PROMOTION_CODES } from './promotion.js';
export { sessionUuidV7, MAX_UUIDV7_MS } from './session.js';
export { epochUnit, epochGuessToIso, SECONDS_BELOW, MILLISECONDS_BELOW, type EpochUnit } from './epoch.js';
