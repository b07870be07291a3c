import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPipeline } from '@hogport/pipeline';
import { runCli } from '@hogport/testkit';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEMO = path.join(ROOT, 'pipelines/demo.yaml');

/** Runs a deployment's hogport arguments for real, with the demo pipeline and a local store in place of the cluster's. */
async function runAsDeployed(args: string[]): Promise<void> {
  const store = await mkdtemp(path.join(tmpdir(), 'hogport-deploy-'));
  const local = args.map((a) => (/\.ya?ml$/.test(a) ? DEMO : a));
  const storeAt = local.indexOf('--store');
  if (storeAt >= 0) local.splice(storeAt, 2);
  for (const stage of ['extract', 'transform'].slice(0, ['extract', 'transform', 'load'].indexOf(local[0]!))) assert.equal((await runCli([stage, DEMO, '--store', store])).code, 0);
  const res = await runCli([...local, '--store', store]);
  assert.equal(res.code, 0, `hogport ${args.join(' ')}: ${res.stderr.slice(-500)}`);
}

test('every docker-compose service runs a valid hogport command', async () => {
  const compose = parse(await readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { command?: string[]; image?: string; build?: string }> };
  const hogport = Object.entries(compose.services).filter(([, s]) => s.image === 'hogport:local');
  assert.deepEqual(hogport.map(([name]) => name).sort(), ['extract', 'load', 'plan', 'status', 'transform']);
  for (const [, service] of hogport) await runAsDeployed(service.command!);
});

test('the Kubernetes Jobs parse, run one stage each with valid arguments, and read a valid pipeline', async () => {
  const dir = path.join(ROOT, 'config/k8s');
  const stages = new Set<string>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(await readFile(path.join(dir, file), 'utf8'))) {
      assert.equal(doc.errors.length, 0, `${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const k = doc.toJS() as { kind: string; spec?: any; data?: Record<string, string> };
      if (k.kind === 'Job') {
        const args = k.spec.template.spec.containers[0].args as string[];
        assert.ok(k.spec.parallelism > 1, `${file}: several pods share the stage`);
        stages.add(args[0]!);
        await runAsDeployed(args);
      }
      if (k.kind === 'ConfigMap') {
        const tmp = await mkdtemp(path.join(tmpdir(), 'hogport-k8s-'));
        await writeFile(path.join(tmp, 'pipeline.yaml'), k.data!['pipeline.yaml']!);
        const loaded = await loadPipeline(path.join(tmp, 'pipeline.yaml'));
        assert.match(String(loaded.definition.store), /^s3:\/\//, 'pods share a cloud store');
      }
    }
  }
  assert.deepEqual([...stages].sort(), ['extract', 'load', 'transform']);
});
