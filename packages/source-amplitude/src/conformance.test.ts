import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkImporterCases, runCli, runDryMigration, type ImporterCase, type ImporterFixture, type MigrationRun } from '@hogport/testkit';

const FIXTURE = fileURLToPath(new URL('../fixtures/posthog-importer.json', import.meta.url));

/** Hour i of the export (Amplitude's upload hours, one chunk each) holds record i: outcomes stay the record's. */
function hourOf(i: number): { date: string; hour: number; chunk: string } {
  const date = new Date(Date.UTC(2023, 9, 15) + Math.floor(i / 24) * 86_400_000).toISOString().slice(0, 10);
  const hour = i % 24;
  return { date, hour, chunk: `${date}T${String(hour).padStart(2, '0')}` };
}

const TIME_FIELDS = ['event_time', 'client_event_time', 'server_received_time'];

/** Every case as its own migration, the way a user runs one: Amplitude export files in, a dry run out. */
export async function runAmplitudeCase(c: ImporterCase, completion: Record<string, unknown>): Promise<MigrationRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-conformance-amp-'));
  await mkdir(path.join(dir, 'export'));
  const chunks: string[] = [];
  for (const [i, record] of c.records.entries()) {
    const line = TIME_FIELDS.some((f) => f in record) ? record : { ...record, ...completion };
    const { date, hour, chunk } = hourOf(i);
    await writeFile(path.join(dir, 'export', `187520_${date}_${hour}#0.json`), `${JSON.stringify(line)}\n`);
    chunks.push(chunk);
  }
  const identifyOff = c.context.generate_identify_events === false;
  return runDryMigration({
    dir, migration: 'conformance', chunks, run: (args, env) => runCli(args, { env: env ?? {} }),
    source: '{ type: amplitude, mode: files, location: ./export, requireComplete: false }',
    ...(identifyOff ? { transform: { identifyEvents: false } } : {}),
    owner: (i) => {
      const { user_id: user, device_id: device } = c.records[i]!;
      return { ...(typeof user === 'string' ? { user: user.trim() } : {}), ...(typeof device === 'string' ? { anon: [device.trim()] } : {}) };
    },
  });
}

const fixture = JSON.parse(await readFile(FIXTURE, 'utf8')) as ImporterFixture & { completion: { event_time: string } };

test('every case of PostHog\'s Amplitude importer tests lands as the importer has it, or differs only deliberately', async (t) => {
  await checkImporterCases(t, 'amplitude', fixture.cases, (c) => runAmplitudeCase(c, { event_time: fixture.completion.event_time }));
});
