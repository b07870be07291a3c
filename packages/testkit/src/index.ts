export { freePort } from './net.js';
export { startFakeGcs, crc32cBase64, randomBucket, type FakeGcs } from './gcs-fake.js';
export { startMoto, type Moto } from './moto.js';
export { seeded, posthogEvents, posthogInstance, segmentMessages, jsonLines, gzipText, type PostHogFixtureOptions } from './fixtures.js';
export { startFakePostHog, type FakePostHog, type FakePostHogOptions, type CaptureRequest, type SourceEvent, type SourcePerson } from './posthog-fake.js';
export { startCli, runCli, logLines, HOGPORT_BIN, type CliResult } from './cli-runner.js';
export { amplitudeExport, amplitudeEntries, zipOf, startAmplitudeExportApi, type AmplitudeRecord, type AmplitudeFixtureOptions, type AmplitudeZipOptions, type AmplitudeApi, type AmplitudeApiOptions } from './amplitude.js';
export { mixpanelExport, mixpanelProfiles, startMixpanelApi, type MixpanelEvent, type MixpanelProfile, type MixpanelFixtureOptions, type MixpanelApiOptions as MixpanelStandInOptions, type MixpanelApi } from './mixpanel.js';
export { startFaultProxy, type FaultProxy, type FaultProxyOptions, type FaultKind } from './fault-proxy.js';
