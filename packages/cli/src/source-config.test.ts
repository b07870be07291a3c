import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { canonicalJson, silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { SOURCES } from './context.js';

// Each source's type and transform config as released: the config hash of every done chunk is made
// of them, so a change here makes every user's done chunks stale and is a decision, never a side effect.
const RELEASED: Array<[Record<string, unknown> & { type: string }, boolean, string]> = [
  [{ type: 'amplitude', start: '2024-03-01', end: '2024-03-02', dropProperties: ['x'] },
    true, '{"options":{"dropProperties":["x"],"maxUncompressedBytes":68719476736,"renameEvents":{}},"source":"amplitude","version":3}'],
  [{ type: 'amplitude', mode: 'files', location: '/tmp', renameEvents: { a: 'b' } },
    true, '{"options":{"dropProperties":[],"maxUncompressedBytes":68719476736,"renameEvents":{"a":"b"}},"source":"amplitude","version":3}'],
  [{ type: 'mixpanel', start: '2024-03-01', end: '2024-03-08', timezone: 'Europe/Berlin', profiles: true },
    true, '{"options":{"dropProperties":[],"end":"2024-03-08","renameEvents":{},"timezone":"Europe/Berlin"},"source":"mixpanel","version":3}'],
  [{ type: 'posthog-files', location: '/tmp' },
    false, '{"options":{},"source":"posthog-files","version":2}'],
  [{ type: 'posthog', host: 'https://us.posthog.com', projectId: 7, start: '2024-03-01', end: '2024-03-02' },
    true, '{"options":{"end":"2024-03-02"},"source":"posthog","version":2}'],
  [{ type: 'files', location: '/tmp', mapping: { event: 'e', distinctId: 'u', timestamp: { field: 't' } } },
    false, '{"options":{"csv":{},"format":"auto","jsonFields":[],"mapping":{"distinctId":"u","event":"e","properties":{"constant":{},"exclude":[],"include":["*"],"rename":{}},"timestamp":{"field":"t","format":"iso","zone":"UTC"}}},"source":"files","version":2}'],
  [{ type: 'files', location: '/tmp', module: './m.mjs', jsonFields: ['p'], format: 'csv', csv: { delimiter: ';' } },
    false, '{"options":{"csv":{"delimiter":";"},"format":"csv","jsonFields":["p"],"module":"./m.mjs"},"source":"files","version":2}'],
  [{ type: 'segment', location: '/tmp' },
    true, '{"options":{},"source":"segment","version":6}'],
  [{ type: 'ga4', location: '/tmp', pattern: '*.json' },
    true, '{"options":{},"source":"ga4","version":6}'],
  [{ type: 'heap', location: '/tmp' },
    true, '{"options":{},"source":"heap","version":8}'],
];

test('every source keeps the transform config, and so the config hash, it had for the same options', async () => {
  for (const [options, identities, config] of RELEASED) {
    const factory = await SOURCES[options.type]!();
    const source = factory({ options, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger });
    assert.equal(source.type, options.type);
    assert.equal(Boolean(source.identities), identities, `${options.type} identities`);
    assert.equal(canonicalJson(source.transformConfig()), config, JSON.stringify(options));
  }
  assert.deepEqual(new Set(RELEASED.map(([o]) => o.type)), new Set(Object.keys(SOURCES)), 'every source is pinned');
});
