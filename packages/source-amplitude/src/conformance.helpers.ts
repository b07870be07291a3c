import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runCli, runDryMigration, type MigrationRun } from '@hogport/testkit';

/** Hour i of the export (Amplitude's upload hours, one chunk each) holds record i: outcomes stay the record's. */
function hourOf(i: number): { date: string; hour: number; chunk: string } {
  const date = new Date(Date.UTC(2023, 9, 15) + Math.floor(i / 24) * 86_400_000).toISOString().slice(0, 10);
  const hour = i % 24;
  return { date, hour, chunk: `${date}T${String(hour).padStart(2, '0')}` };
}

const TIME_FIELDS = ['event_time', 'client_event_time', 'server_received_time'];

/**
 * Records as one migration, the way a user runs one: Amplitude export files (S3 export layout) in,
 * a dry run out. A record without any time gets `completion` first (an export line always has one).
 */
export async function runAmplitudeRecords(records: Array<Record<string, unknown>>, options: { completion?: Record<string, unknown>; transform?: Record<string, unknown> } = {}): Promise<MigrationRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-conformance-amp-'));
  await mkdir(path.join(dir, 'export'));
  const chunks: string[] = [];
  for (const [i, record] of records.entries()) {
    const line = TIME_FIELDS.some((f) => f in record) ? record : { ...record, ...options.completion };
    const { date, hour, chunk } = hourOf(i);
    await writeFile(path.join(dir, 'export', `187520_${date}_${hour}#0.json`), `${JSON.stringify(line)}\n`);
    chunks.push(chunk);
  }
  try {
    return await runDryMigration({
      dir, migration: 'conformance', chunks, run: (args, env) => runCli(args, { env: env ?? {} }),
      source: '{ type: amplitude, mode: files, location: ./export, requireComplete: false }',
      ...(options.transform ? { transform: options.transform } : {}),
      owner: (i) => {
        const { user_id: user, device_id: device } = records[i]!;
        return { ...(typeof user === 'string' ? { user: user.trim() } : {}), ...(typeof device === 'string' ? { anon: [device.trim()] } : {}) };
      },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
