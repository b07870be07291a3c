import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { canonicalJson, silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { posthogApiSource, posthogFilesSource } from './index.js';

const api = (more: Record<string, unknown>) => posthogApiSource({ options: { type: 'posthog', host: 'https://eu.posthog.com', projectId: 1, start: '2024-03-01', end: '2024-04-01', ...more }, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger });
const config = (s: { transformConfig(): unknown }) => canonicalJson(s.transformConfig());

test('the transform config changes with what changes output (persons are stamped with end), not with where or how the data is fetched', () => {
  const base = config(api({}));
  assert.notEqual(config(api({ end: '2024-05-01' })), base, 'a new end restamps the persons chunk');
  for (const same of [{ start: '2024-02-01' }, { host: 'https://us.posthog.com' }, { projectId: 2 }, { pageSize: 500 }, { personalApiKeyEnv: 'OTHER_KEY' }, { persons: false }]) {
    assert.equal(config(api(same)), base, JSON.stringify(same));
  }
  const files = (more: Record<string, unknown>) => config(posthogFilesSource({ options: { type: 'posthog-files', location: tmpdir(), ...more }, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger }));
  assert.equal(files({ pattern: '**/*.jsonl' }), files({}), 'which files are planned changes no file\'s output');
});
