import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { canonicalJson, silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { mixpanelSource } from './index.js';

const config = (more: Record<string, unknown>) => canonicalJson(mixpanelSource({ options: { type: 'mixpanel', start: '2024-03-01', end: '2024-03-08', ...more }, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger }).transformConfig());

test('the transform config changes with what changes output (profiles without $last_seen are stamped with end), not with how the export is fetched', () => {
  const base = config({});
  for (const changed of [{ end: '2024-03-09' }, { timezone: 'Europe/Berlin' }, { renameEvents: { a: 'b' } }, { dropProperties: ['x'] }]) assert.notEqual(config(changed), base, JSON.stringify(changed));
  for (const same of [{ start: '2024-02-01' }, { region: 'eu' }, { maxQueriesPerHour: 30 }, { projectId: 7 }, { timeoutSeconds: 5 }, { exportEndpoint: 'http://127.0.0.1:1' }]) assert.equal(config(same), base, JSON.stringify(same));
});
