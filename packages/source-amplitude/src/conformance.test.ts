import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkImporterCases, importerTransform, type ImporterFixture } from '@hogport/testkit';
import { runAmplitudeRecords } from './conformance.helpers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/posthog-importer.json', import.meta.url));
const fixture = JSON.parse(await readFile(FIXTURE, 'utf8')) as ImporterFixture & { completion: { event_time: string } };

test('every case of PostHog\'s Amplitude importer tests lands as the importer has it, or differs only deliberately', async (t) => {
  // Each case is its own migration: the identity merge's "once per pair" spans a migration, as the importer's cache spans a job.
  await checkImporterCases(t, 'amplitude', fixture.cases, (c) => runAmplitudeRecords(c.records, {
    completion: { event_time: fixture.completion.event_time },
    transform: importerTransform(c.context),
  }));
});
