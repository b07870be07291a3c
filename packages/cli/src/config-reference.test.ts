import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DestinationSpec, PipelineDefinition, TransformSpec } from '@hogport/pipeline';
import { z } from 'zod';
import { SOURCES } from './context.js';

// The README's configuration reference is held to the zod schemas the definition is parsed with:
// a new option without a row fails here, and so does a row for an option that is gone.
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/** One key of a schema, as the reference must describe it. */
interface Key {
  path: string;
  required: boolean;
  defaults: unknown[];
  /** The values an enum or literal takes. */
  values: string[];
  /** Where the same schema was met first: the row need only name it. */
  sameAs?: string;
}

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType>; options?: z.ZodType[]; entries?: Record<string, string>; values?: unknown[]; defaultValue?: unknown };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Every key under `root` (not `root` itself), with what the schema says of it. */
function keysOf(schema: z.ZodType, root: string, defaults: Readonly<Record<string, unknown>> = {}): Map<string, Key> {
  const keys = new Map<string, Key>();
  const seen = new Map<z.ZodType, string>();
  const note = (path: string, required: boolean, dflt: { value: unknown } | undefined, values: string[] = []): Key => {
    const key = keys.get(path) ?? { path, required: false, defaults: [], values: [] };
    key.required ||= required;
    if (dflt) key.defaults.push(dflt.value);
    key.values.push(...values.filter((v) => !key.values.includes(v)));
    keys.set(path, key);
    return key;
  };
  const walk = (s: z.ZodType, path: string, required: boolean, dflt?: { value: unknown }): void => {
    const d = defOf(s);
    if (d.type === 'default') return walk(d.innerType!, path, false, { value: typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue });
    if (d.type === 'optional') return walk(d.innerType!, path, false, dflt);
    if (d.type === 'nullable') return walk(d.innerType!, path, required, dflt);
    if (d.type === 'pipe') return walk(d.in!, path, required, dflt);
    const key = path === root ? undefined : note(path, required, dflt, d.type === 'enum' ? Object.values(d.entries!) : d.type === 'literal' ? d.values!.map(String) : []);
    if (d.type !== 'object' && d.type !== 'union') return;
    const first = seen.get(s);
    if (first !== undefined && first !== path) {
      key!.sameAs = first;
      return;
    }
    seen.set(s, path);
    const shapes = d.type === 'object' ? [d.shape!] : d.options!.filter((o) => defOf(o).type === 'object').map((o) => defOf(o).shape!);
    for (const shape of shapes) for (const [name, field] of Object.entries(shape)) walk(field, `${path}.${name}`.replace(/^\./, ''), true);
  };
  walk(schema, root, true);
  for (const [name, value] of Object.entries(defaults)) {
    const key = keys.get(`${root}.${name}`);
    if (key) Object.assign(key, { required: false, defaults: [...key.defaults, value] });
  }
  return keys;
}

/** The rows of a part of the reference, by the key in their first cell: [type, default, meaning]. */
function rowsOf(text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.split('|').map((c) => c.trim()));
  }
  return rows;
}

/** The configuration reference: the definition's rows, and each source's part by its type. */
async function reference(): Promise<{ definition: Map<string, string[]>; sources: Map<string, Map<string, string[]>> }> {
  const readme = await readFile(README, 'utf8');
  const start = readme.indexOf('\n### Configuration reference\n');
  assert.ok(start >= 0, 'README.md has a "### Configuration reference" section');
  const rest = readme.slice(start + 1);
  const end = rest.slice(1).search(/\n#{1,3} /);
  const parts = (end < 0 ? rest : rest.slice(0, end + 1)).split(/\n(?=#### )/);
  const definition = new Map<string, string[]>();
  const sources = new Map<string, Map<string, string[]>>();
  for (const part of parts) {
    const source = /^#### Source options: `([^`]+)`/.exec(part);
    if (source) sources.set(source[1]!, rowsOf(part));
    else for (const [k, v] of rowsOf(part)) definition.set(k, v);
  }
  return { definition, sources };
}

const shown = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;
const plain = (v: unknown) => v === null || typeof v !== 'object' || (Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0);

/** What the rows get wrong about the keys, one line each; `mayOmit` names documented keys the schema may not have yet. */
function problems(keys: Map<string, Key>, rows: Map<string, string[]>, mayOmit: (path: string) => boolean = () => false): string[] {
  const found: string[] = [];
  for (const key of keys.values()) {
    const row = rows.get(key.path);
    if (!row) { found.push(`${key.path}: no row`); continue; }
    if (row.length !== 3) { found.push(`${key.path}: ${row.length + 1} cells, not key | type | default | meaning`); continue; }
    const [type, dflt, meaning] = row as [string, string, string];
    for (const v of key.defaults) if (plain(v) && !dflt.includes(shown(v))) found.push(`${key.path}: the default cell does not say ${shown(v)}`);
    if (key.required && key.defaults.length === 0 && !/required/.test(dflt)) found.push(`${key.path}: the default cell does not say it is required`);
    for (const v of key.values) if (!type.includes(`\`${v}\``)) found.push(`${key.path}: the type cell does not name \`${v}\``);
    if (key.sameAs && !`${type} ${meaning}`.includes(`\`${key.sameAs}\``)) found.push(`${key.path}: does not say it is shaped like \`${key.sameAs}\``);
    if (meaning.length < 10) found.push(`${key.path}: no meaning`);
  }
  for (const path of rows.keys()) if (!keys.has(path) && !mayOmit(path)) found.push(`${path}: documented, but no schema has it`);
  return found;
}

// `sample` is documented with the --sample runs that read it; until the schema has it, its rows stand alone.
const sampleNotYet = (path: string) => !('sample' in PipelineDefinition.shape) && (path === 'sample' || path.startsWith('sample.'));

test('every key of the definition has a row in the README\'s configuration reference, with its type, default and meaning', async () => {
  const { definition } = await reference();
  assert.deepEqual(problems(keysOf(PipelineDefinition, ''), definition, sampleNotYet), []);
});

test('every option of every source has a row in that source\'s part of the configuration reference', async () => {
  const { sources } = await reference();
  assert.deepEqual([...sources.keys()].sort(), Object.keys(SOURCES).sort(), 'one "#### Source options: `type`" part per source');
  for (const [type, load] of Object.entries(SOURCES)) {
    const factory = await load();
    assert.equal(factory.type, type);
    assert.deepEqual(problems(keysOf(factory.options, 'source', factory.defaults), sources.get(type) ?? new Map()), [], type);
  }
});

test('a new option without a row, a changed default or an unnamed value is found', async () => {
  const { definition } = await reference();
  const grown = PipelineDefinition.extend({
    retention: z.number().default(7),
    transform: TransformSpec.extend({ lib: z.enum(['if-absent', 'always', 'never', 'sometimes']).default('always') }).optional(),
  });
  assert.deepEqual(problems(keysOf(grown, ''), definition, sampleNotYet).sort(), [
    'retention: no row',
    'transform.lib: the default cell does not say `always`',
    'transform.lib: the type cell does not name `sometimes`',
  ]);
  const rows = new Map(definition);
  rows.set('transform.retired', ['boolean', '`false`', 'an option no schema has any longer']);
  assert.deepEqual(problems(keysOf(PipelineDefinition, ''), rows, sampleNotYet), ['transform.retired: documented, but no schema has it']);
});

test('a schema met again, like sample.destination, needs a row that names where it was met first', async () => {
  const { definition } = await reference();
  const withSample = 'sample' in PipelineDefinition.shape ? PipelineDefinition : PipelineDefinition.extend({ sample: z.object({ destination: DestinationSpec.optional() }).strict().optional() });
  const keys = keysOf(withSample, '');
  assert.equal(keys.get('sample.destination')?.sameAs, 'destination');
  assert.equal(keys.has('sample.destination.host'), false);
  assert.deepEqual(problems(keys, definition), []);
  const rows = new Map(definition);
  rows.set('sample.destination', ['an object', 'none', 'where sampled runs send']);
  assert.deepEqual(problems(keys, rows), ['sample.destination: does not say it is shaped like `destination`']);
});
