import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkImporterCases, importerTransform, type ImporterFixture } from '@hogport/testkit';
import { runMixpanelRecords } from './conformance.helpers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/posthog-importer.json', import.meta.url));
const fixture = JSON.parse(await readFile(FIXTURE, 'utf8')) as ImporterFixture;

test('every case of PostHog\'s Mixpanel importer tests lands as the importer has it, or differs only deliberately', async (t) => {
  await checkImporterCases(t, 'mixpanel', fixture.cases, (c) => runMixpanelRecords(c.records, { transform: importerTransform(c.context) }));
});
