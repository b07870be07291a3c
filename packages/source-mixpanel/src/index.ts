export { mixpanelSource, MixpanelOptions, PROFILES_CHUNK } from './source.js';
export { mapMixpanelRecord, mapMixpanelProfile, POSTHOG_MIXPANEL_NAMESPACE, MIXPANEL_CONTENT_NAMESPACE, type MixpanelMapping } from './map.js';
export { mixpanelTime } from './time.js';
export { downloadDay, downloadProfiles, MixpanelLimiter, type MixpanelApiOptions } from './api.js';
