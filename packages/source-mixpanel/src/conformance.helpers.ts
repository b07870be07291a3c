import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runCli, runDryMigration, startMixpanelApi, type MigrationRun, type MixpanelEvent } from '@hogport/testkit';

const env = { MIXPANEL_SERVICE_ACCOUNT_USER: 'sa.conformance', MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_secret_conformance' };

const dayOf = (i: number) => new Date(Date.UTC(2023, 9, 15) + i * 86_400_000).toISOString().slice(0, 10);
const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/**
 * Records as one migration, the way a user runs one: the Mixpanel stand-in serves day i with
 * record i (one chunk each, so every outcome stays its record's), into a dry run.
 */
export async function runMixpanelRecords(records: Array<Record<string, unknown>>, options: { transform?: Record<string, unknown> } = {}): Promise<MigrationRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-conformance-mp-'));
  const data = new Map(records.map((r, i) => [dayOf(i), [r as unknown as MixpanelEvent]]));
  const api = await startMixpanelApi({ user: env.MIXPANEL_SERVICE_ACCOUNT_USER, secret: env.MIXPANEL_SERVICE_ACCOUNT_SECRET, projectId: '4242', data, profiles: [] });
  try {
    const chunks = records.map((_, i) => dayOf(i));
    return await runDryMigration({
      dir, migration: 'conformance', chunks, env, run: (args, e) => runCli(args, { env: e ?? {} }),
      source: `{ type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 4242, start: "${chunks[0]}", end: "${dayOf(records.length)}" }`,
      ...(options.transform ? { transform: options.transform } : {}),
      owner: (i) => {
        const p = (records[i]!.properties ?? {}) as Record<string, unknown>;
        const device = text(p.$device_id);
        const anon = [device, device && `$device:${device}`, text(p.$distinct_id_before_identity), text(p.distinct_id)].filter((x): x is string => x !== undefined);
        const user = text(p.$user_id) ?? text(p.distinct_id);
        return { ...(user ? { user } : {}), anon };
      },
    });
  } finally {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}

