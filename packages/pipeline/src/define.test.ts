import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { ExactNumber, HogportError, silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { z } from 'zod';
import { defineSource, mapOutcome, type Outcome, type RawFileInput, type ReadRecord, type RecordMapper, type SourceFactory, type SourceSteps } from './index.js';

const Options = z.object({
  location: z.string().min(1),
  batch: z.number().int().positive().default(10),
  rename: z.record(z.string(), z.string()).default({}),
}).strict();

const file = (name: string, text: string): RawFileInput => ({ name, open: async () => Readable.from([Buffer.from(text)]) });
const make = (factory: SourceFactory, options: Record<string, unknown>) => factory({ options, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger });
const tctx = { migration: 'm', chunk: 'c1', transform: {} as never, hogportVersion: '0', log: silentLogger };
async function outcomes(iter: AsyncIterable<Outcome>): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for await (const o of iter) out.push(o);
  return out;
}

const toEvent: RecordMapper = (value) => {
  const r = value as { name: string; user: string };
  return { events: [{ uuid: '00000000-0000-4000-8000-000000000001', event: r.name, distinct_id: r.user, timestamp: '2024-03-01T00:00:00.000Z', properties: {} }] };
};
const steps = (more: Record<string, unknown> = {}): SourceSteps => ({
  plan: async () => [{ id: 'c1', inputs: [] }, { id: 'people', inputs: [] }],
  extract: async () => {},
  map: () => toEvent,
  ...more,
}) as SourceSteps;

test('options are refused with one line per problem, each naming its field under source', () => {
  const source = defineSource({ type: 'demo', options: Options, version: 1, setup: () => steps() });
  assert.throws(() => make(source, { type: 'demo', batch: -1, colour: 'red' }), (err: unknown) => {
    assert.ok(err instanceof HogportError);
    assert.equal(err.code, 'E_PIPELINE_INVALID');
    assert.equal(err.exitCode, 2);
    const problems = (err.details as { problems: string[] }).problems;
    assert.deepEqual(problems.map((p) => p.slice(0, p.indexOf(': '))), ['source.location', 'source.batch', 'source'], problems.join('\n'));
    assert.match(problems[2]!, /colour/, 'an option the source does not know is named');
    assert.equal(err.message.split('\n').length, 4, 'a heading, then one line per problem');
    return true;
  });
});

test('a definition naming another type is refused rather than read as this source', () => {
  const source = defineSource({ type: 'demo', options: Options, version: 1, setup: () => steps() });
  assert.throws(() => make(source, { type: 'other', location: '/x' }), /source\.type: is "other", but this source is "demo"/);
});

test('defaults go under the options the user gave, and setup sees them parsed', () => {
  let seen: unknown;
  const source = defineSource({ type: 'demo', options: Options, defaults: { batch: 3 }, version: 1, setup: (o) => { seen = o; return steps(); } });
  make(source, { type: 'demo', location: '/x' });
  assert.deepEqual(seen, { location: '/x', batch: 3, rename: {} });
  make(source, { type: 'demo', location: '/x', batch: 5 });
  assert.deepEqual(seen, { location: '/x', batch: 5, rename: {} });
});

test('extract-only options stay out of the transform config, and everything else is in it with the version', () => {
  const source = defineSource({ type: 'demo', options: Options, extractOnly: ['location', 'batch'], version: 7, setup: () => steps() });
  const config = (o: Record<string, unknown>) => JSON.stringify(make(source, { type: 'demo', ...o }).transformConfig());
  const base = config({ location: '/a' });
  assert.equal(config({ location: '/b', batch: 99 }), base, 'where and how to fetch changes no output');
  assert.notEqual(config({ location: '/a', rename: { a: 'b' } }), base, 'a mapping option is part of the config');
  assert.deepEqual(JSON.parse(base), { source: 'demo', version: 7, options: { rename: {} } });
  const bumped = defineSource({ type: 'demo', options: Options, extractOnly: ['location', 'batch'], version: 8, setup: () => steps() });
  assert.notEqual(JSON.stringify(make(bumped, { type: 'demo', location: '/a' }).transformConfig()), base, 'a new mapping version makes done chunks stale');
});

test("a map's throw costs one record: the records around it are events, it is a reject with the reason", async () => {
  const map: RecordMapper = (value) => {
    if ((value as { name: string }).name === 'boom') throw new Error('no such thing');
    return toEvent(value, { file: '' });
  };
  const asyncMap: RecordMapper = async (value) => map(value, { file: '' });
  for (const m of [map, asyncMap]) {
    const source = make(defineSource({ type: 'demo', options: Options, version: 1, setup: () => steps({ map: () => m }) }), { type: 'demo', location: '/x' });
    const got = await outcomes(source.transform([file('a.jsonl', '{"name":"a","user":"u"}\n{"name":"boom","user":"u"}\nnot json\n{"name":"c","user":"u"}\n')], tctx));
    assert.deepEqual(got.map((o) => o.kind), ['events', 'reject', 'reject', 'events']);
    const thrown = got[1] as Extract<Outcome, { kind: 'reject' }>;
    assert.equal(thrown.code, 'mapping_failed');
    assert.match(thrown.reason, /no such thing/);
    assert.deepEqual(thrown.position, { file: 'a.jsonl', line: 2, offset: 24 });
    assert.equal((got[2] as Extract<Outcome, { kind: 'reject' }>).code, 'invalid_json');
  }
});

test('a map is made once per chunk, so it may hold what it has seen across the chunk', async () => {
  const source = make(defineSource({
    type: 'demo', options: Options, version: 1,
    setup: () => steps({
      map: (chunk: string) => {
        const seen = new Set<string>();
        return (value: unknown) => {
          const name = (value as { name: string }).name;
          if (seen.has(name)) return { drop: `repeated_in_${chunk}` };
          seen.add(name);
          return toEvent(value, { file: '' });
        };
      },
    }),
  }), { type: 'demo', location: '/x' });
  const lines = '{"name":"a","user":"u"}\n{"name":"a","user":"u"}\n';
  const first = await outcomes(source.transform([file('a.jsonl', lines)], tctx));
  assert.deepEqual(first.map((o) => (o.kind === 'drop' ? o.rule : o.kind)), ['events', 'repeated_in_c1']);
  const again = await outcomes(source.transform([file('a.jsonl', lines)], { ...tctx, chunk: 'c2' }));
  assert.deepEqual(again.map((o) => (o.kind === 'drop' ? o.rule : o.kind)), ['events', 'repeated_in_c2'], 'a new chunk starts with nothing seen');
});

test('a prepare step refuses a record with its reason, and a record it marks exact is counted when its event carries an exact number', async () => {
  const source = make(defineSource({
    type: 'demo', options: Options, version: 1,
    setup: () => steps({
      read: {
        format: 'jsonl',
        // Stands for a source holding JSON as text, whose numbers the reader could not see.
        prepare: (r: ReadRecord) => ((r.value as { name?: unknown }).name === undefined ? { code: 'no_name', reason: 'the record has no name' } : { ...r, exact: true }),
      },
      map: () => (value: unknown) => {
        const r = value as { name: string; user: string; big?: string };
        const made = toEvent(value, { file: '' }) as { events: Array<{ properties: Record<string, unknown> }> };
        if (r.big) made.events[0]!.properties.big = new ExactNumber(r.big);
        return made as ReturnType<typeof toEvent>;
      },
    }),
  }), { type: 'demo', location: '/x' });
  const got = await outcomes(source.transform([file('a.jsonl', '{"user":"u"}\n{"name":"b","user":"u"}\n{"name":"c","user":"u","big":"12345678901234567890"}\n')], tctx));
  assert.deepEqual(got.map((o) => o.kind), ['reject', 'events', 'events']);
  const refused = got[0] as Extract<Outcome, { kind: 'reject' }>;
  assert.deepEqual([refused.code, refused.reason, refused.record, refused.position.line], ['no_name', 'the record has no name', '{"user":"u"}', 1]);
  assert.equal((got[1] as Extract<Outcome, { kind: 'events' }>).changed, undefined, 'marked exact, but nothing exact reached its event');
  assert.deepEqual((got[2] as Extract<Outcome, { kind: 'events' }>).changed, ['number_as_text']);
});

test('declared capabilities reach what the runner reads: identities, and the chunks that load last marked in the plan', async () => {
  const declared = make(defineSource({ type: 'demo', options: Options, version: 1, identities: true, loadsLast: (chunk) => chunk === 'people', setup: () => steps() }), { type: 'demo', location: '/x' });
  assert.equal(declared.identities, true);
  assert.deepEqual((await declared.plan()).map((c) => [c.id, c.loadLast ?? false]), [['c1', false], ['people', true]]);
  const plain = make(defineSource({ type: 'demo', options: Options, version: 1, setup: () => steps() }), { type: 'demo', location: '/x' });
  assert.equal(plain.identities, undefined, 'a source without identities writes no identity summaries');
  assert.deepEqual((await plain.plan()).map((c) => c.loadLast ?? false), [false, false]);
  assert.equal(plain.type, 'demo');
});

test('a source with its own transform is handed the raw files and the chunk as they are', async () => {
  const seen: string[] = [];
  const source = make(defineSource({
    type: 'demo', options: Options, version: 1,
    setup: () => ({
      plan: async () => [], extract: async () => {},
      async *transform(files, ctx) {
        for (const f of files) seen.push(`${ctx.chunk}/${f.name}`);
        yield { kind: 'drop', rule: 'whole_file', position: { file: files[0]!.name } };
      },
    }),
  }), { type: 'demo', location: '/x' });
  const got = await outcomes(source.transform([file('p1.json', '{}'), file('p2.json', '{}')], tctx));
  assert.deepEqual(seen, ['c1/p1.json', 'c1/p2.json']);
  assert.deepEqual(got, [{ kind: 'drop', rule: 'whole_file', position: { file: 'p1.json' } }]);
});

test('a record a source read itself (a row of a page) costs only itself when its map throws, sync or async', async () => {
  const read = { value: { name: 'boom' }, position: { file: 'page-000001.json', line: 3 } };
  const thrown = mapOutcome(() => { throw new RangeError('Invalid time value'); }, read);
  assert.deepEqual(thrown, { kind: 'reject', code: 'mapping_failed', reason: 'mapping the record failed: Invalid time value', position: read.position, record: '{"name":"boom"}' });
  assert.deepEqual(await mapOutcome(async () => { throw new Error('later'); }, read), { ...thrown, reason: 'mapping the record failed: later' });
  assert.deepEqual(mapOutcome(() => ({ drop: 'rule' }), read), { kind: 'drop', rule: 'rule', position: read.position, read });
});
