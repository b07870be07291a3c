import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { mapMixpanelRecord } from '@hogport/source-mixpanel';
import { mixpanelExport, runCli, startFakePostHog, startMixpanelApi, type MixpanelEvent } from '@hogport/testkit';

const KEY = 'phc_reextract_e2e';
const PERSONAL = 'phx_reextract_personal';
const env = { POSTHOG_PROJECT_API_KEY: KEY, POSTHOG_PERSONAL_API_KEY: PERSONAL, MIXPANEL_SERVICE_ACCOUNT_USER: 'sa.user', MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_secret' };
const uuidOf = (e: MixpanelEvent) => {
  const m = mapMixpanelRecord(e, { renameEvents: {}, dropProperties: [] });
  assert.ok('events' in m);
  return m.events[0]!.uuid;
};
/** A fixed shuffle, so the export comes back in another order every time it is asked for again. */
const shuffled = <T>(xs: readonly T[], seed: number): T[] => {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

test('a loaded Mixpanel day re-extracted in another order sends nothing; late events send only themselves; a changed event is listed and sent only with --resend-changed', async (t) => {
  const days = ['2024-03-01', '2024-03-02'];
  const data = mixpanelExport({ seed: 57, days, perDay: 120 });
  const api = await startMixpanelApi({ user: env.MIXPANEL_SERVICE_ACCOUNT_USER, secret: env.MIXPANEL_SERVICE_ACCOUNT_SECRET, projectId: '77', data, profiles: [] });
  const posthog = await startFakePostHog({ token: KEY, query: { projectId: '42', personalKey: PERSONAL } });
  t.after(async () => { await api.close(); await posthog.close(); });
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-reextract-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, [
    'id: mp',
    'store: ./store',
    `source: { type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 77, start: "2024-03-01", end: "2024-03-03" }`,
    `destination: { type: posthog, host: "${posthog.url}", batchMaxEvents: 20 }`,
  ].join('\n'));
  const day = days[0]!;
  const sent = () => posthog.events.filter((e) => (e.properties as Record<string, unknown>).$hogport_chunk === day);
  const manifest = async () => JSON.parse(await readFile(path.join(dir, 'store', 'mp', 'manifests', 'load', `${day}.json`), 'utf8'));
  const cli = async (args: string[]) => {
    const r = await runCli(args, { env });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const reextract = async (...more: string[]) => {
    await cli(['extract', file, '--force', '--chunks', day]);
    return cli(['run', file, ...more]);
  };

  await cli(['run', file]);
  const first = sent().length;
  const wanted = new Set(data.get(day)!.map(uuidOf));
  assert.equal(first, wanted.size, 'each event of the day once');

  // The same events in another order: nothing is sent.
  data.set(day, shuffled(data.get(day)!, 1));
  const reordered = await reextract();
  assert.equal(sent().length, first, 'a reordered re-extract sends nothing');
  let m = await manifest();
  assert.deepEqual(m.delta, { against: 'ledger', alreadyLoaded: first, new: 0, changed: 0, changedResent: 0, changedKey: 0, unidentified: 0, withdrawn: 0 });
  assert.deepEqual([m.counts.in, m.counts.out, m.counts.droppedBy.alreadyLoaded], [first, 0, first]);
  assert.match(reordered.stderr, new RegExp(`compared with what they loaded: ${first} events already loaded \\(not sent again\\), 0 new, 0 changed`));

  // Late events, spread through the day: only they are sent.
  const late = mixpanelExport({ seed: 58, days: [day], perDay: 8 }).get(day)!.filter((e, i, all) => e.properties.$insert_id && all.findIndex((x) => x.properties.$insert_id === e.properties.$insert_id) === i);
  data.set(day, shuffled([...data.get(day)!, ...late], 2));
  await reextract();
  const lateSent = sent().slice(first);
  assert.deepEqual(new Set(lateSent.map((e) => e.uuid)), new Set(late.map(uuidOf)), 'exactly the late events are sent');
  assert.equal(lateSent.length, late.length, 'each once');
  m = await manifest();
  assert.deepEqual([m.delta.alreadyLoaded, m.delta.new, m.delta.changed], [first, late.length, 0]);
  assert.equal(m.counts.in, m.delta.alreadyLoaded + m.delta.new + m.delta.changed + m.delta.unidentified, 'every event is counted once');
  assert.equal(m.counts.out, late.length);
  // What PostHog holds for the day is every event of both loads, once.
  const verified = JSON.parse((await cli(['verify', file, '--project-id', '42', '--host', posthog.url, '--chunks', day, '--json'])).stdout) as { chunks: Array<{ expected: number; uuids: number; verdict: string }> };
  assert.deepEqual([verified.chunks[0]!.expected, verified.chunks[0]!.uuids, verified.chunks[0]!.verdict], [first + late.length, first + late.length, 'ok']);

  // Two events change under their uuid: one in a property, one in its name (PostHog would keep both).
  const total = first + late.length;
  const once = data.get(day)!.filter((e) => e.properties.$insert_id && data.get(day)!.filter((x) => x.properties.$insert_id === e.properties.$insert_id).length === 1);
  const [propertyChanged, renamed] = [once[3]!, once[7]!];
  const changed = data.get(day)!.map((e) => (e === propertyChanged ? { ...e, properties: { ...e.properties, plan: 'enterprise' } } : e === renamed ? { ...e, event: 'Renamed Event' } : e));
  data.set(day, shuffled(changed, 3));
  const kept = await reextract();
  assert.equal(sent().length, total, 'changed events are kept out');
  m = await manifest();
  assert.deepEqual([m.delta.alreadyLoaded, m.delta.new, m.delta.changed, m.delta.changedResent, m.delta.changedKey], [total - 2, 0, 2, 0, 1]);
  assert.equal(m.counts.droppedBy.changedNotResent, 2);
  assert.match(kept.stderr, /2 events changed since they were loaded \(same uuid, other content\) were kept out, in 1 chunk\(s\); hogport load .* --resend-changed sends them \(1 with another name, distinct_id or day/);
  assert.match(kept.stderr, new RegExp(`hogport inspect .* ${day} --changed`));

  const status = await cli(['status', file]);
  assert.match(status.stdout, new RegExp(`load ${day}: 2 event\\(s\\) changed since they were loaded .*kept out; hogport inspect .* ${day} --changed lists them, hogport load .* --resend-changed sends them \\(1 with another name`));
  const statusJson = JSON.parse((await cli(['status', file, '--json'])).stdout) as { chunks: Array<{ chunk: string; load: { delta?: { keptOut: number } } }> };
  assert.equal(statusJson.chunks.find((c) => c.chunk === day)!.load.delta!.keptOut, 2);
  const listed = JSON.parse((await cli(['inspect', file, day, '--changed', '--json'])).stdout) as { count: number; changed: Array<{ uuid: string; event: string; keyChanged: boolean; resent: boolean }> };
  assert.deepEqual(listed.changed.map((e) => [e.uuid, e.event, e.keyChanged, e.resent]).sort(), [[uuidOf(propertyChanged), propertyChanged.event === '$mp_web_page_view' ? '$pageview' : propertyChanged.event, false, false], [uuidOf(renamed), 'Renamed Event', true, false]].sort());
  assert.match((await cli(['inspect', file, day, '--changed'])).stdout, new RegExp(`${uuidOf(renamed)} .*"Renamed Event".*kept out; its name, distinct_id or day changed`));
  const html = await readFile((await cli(['report', file])).stdout.trim(), 'utf8');
  assert.match(html, /<h3>Loaded again<\/h3>/);
  assert.match(html, /data-figure="load.again.keptOut">2</);
  assert.ok(html.includes(uuidOf(renamed)) && html.includes(uuidOf(propertyChanged)), 'the report lists the changed events');

  // A re-run does not send them; asking does, once.
  await cli(['run', file]);
  assert.equal(sent().length, total);
  await cli(['load', file, '--resend-changed']);
  const resent = sent().slice(total);
  assert.deepEqual(resent.map((e) => e.uuid).sort(), [uuidOf(propertyChanged), uuidOf(renamed)].sort());
  assert.equal(resent.find((e) => e.uuid === uuidOf(renamed))!.event, 'Renamed Event');
  assert.equal((resent.find((e) => e.uuid === uuidOf(propertyChanged))!.properties as Record<string, unknown>).plan, 'enterprise');
  m = await manifest();
  assert.deepEqual([m.delta.changed, m.delta.changedResent, m.counts.out], [2, 2, 2]);
  assert.doesNotMatch((await cli(['status', file])).stdout, /kept out/);

  // Afterwards nothing is sent again: not by a run, not by asking again, not by another re-extract.
  await cli(['run', file]);
  await cli(['load', file, '--resend-changed']);
  data.set(day, shuffled(data.get(day)!, 4));
  await reextract('--resend-changed');
  assert.equal(sent().length, total + 2, 're-runs send nothing');
  m = await manifest();
  assert.deepEqual([m.delta.alreadyLoaded, m.delta.new, m.delta.changed], [total, 0, 0]);
});
