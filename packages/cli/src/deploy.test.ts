import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, cp, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
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
  const before = local[0] === 'merge' ? 2 : ['extract', 'transform', 'load'].indexOf(local[0]!);
  for (const stage of ['extract', 'transform'].slice(0, before)) assert.equal((await runCli([stage, DEMO, '--store', store])).code, 0);
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
        const container = k.spec.template.spec.containers[0];
        // As the kubelet expands $(VAR) from the container's env: an Indexed Job's pod learns its index so.
        const env = new Map<string, string>((container.env ?? []).map((e: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }) => [e.name, e.value ?? (e.valueFrom?.fieldRef?.fieldPath.includes('job-completion-index') ? '0' : '')]));
        const args = (container.args as string[]).map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => env.get(name) ?? `$(${name})`));
        assert.ok(args.every((a) => !a.includes('$(')), `${file}: every $(VAR) in args names a variable of the container's env`);
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
  assert.deepEqual([...stages].sort(), ['extract', 'load', 'merge', 'transform']);
});

test('the image\'s command runs a TypeScript mapping module on a production-only install', { timeout: 300_000 }, async () => {
  const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  // What the image runs: its entrypoint, linked to the CLI's bin in the build stage's tree.
  assert.match(dockerfile, /^ENTRYPOINT \["hogport"\]$/m);
  const [, bin] = /ln -s \/app\/(\S+) \/usr\/local\/bin\/hogport/.exec(dockerfile) ?? [];
  assert.ok(bin, 'the Dockerfile links hogport into the PATH');
  assert.match(dockerfile, /npm prune --omit=dev/, 'the image keeps production dependencies only');
  // The build stage's copy, built, then installed as the image keeps it: without devDependencies.
  const app = await mkdtemp(path.join(tmpdir(), 'hogport-image-'));
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json']) await cp(path.join(ROOT, f), path.join(app, f));
  await cp(path.join(ROOT, 'packages'), path.join(app, 'packages'), { recursive: true, filter: (src) => !/[\\/](node_modules|test-output)$/.test(src) && !src.endsWith('.tsbuildinfo') });
  const install = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app, encoding: 'utf8' });
  assert.equal(install.status, 0, install.stderr);
  await assert.rejects(access(path.join(app, 'node_modules/posthog-node')), 'devDependencies (posthog-node, for the load benchmark) are not installed');

  const work = await mkdtemp(path.join(tmpdir(), 'hogport-image-work-'));
  await mkdir(path.join(work, 'export'));
  await writeFile(path.join(work, 'export/a.jsonl'), ['{"type":"signup","user":"u1","at":"2024-01-01T00:00:00Z","plan":"pro"}', '{"type":"heartbeat","user":"u1","at":"2024-01-01T00:01:00Z"}'].join('\n'));
  await writeFile(path.join(work, 'map.ts'), [
    'type Row = { type: string; user: string; at: string; plan?: string };',
    'const map = (r: Row) => (r.type === \'heartbeat\' ? null : { event: r.type, distinct_id: r.user, timestamp: r.at, properties: { plan: r.plan } });',
    'export default map;',
  ].join('\n'));
  await writeFile(path.join(work, 'm.yaml'), ['version: 1', 'id: image', 'store: ./store', 'source: { type: files, location: ./export, module: ./map.ts }', 'destination: { type: dry-run }'].join('\n'));
  const run = spawnSync(path.join(app, bin!), ['run', 'm.yaml', '--skip-checks'], { cwd: work, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production', HOGPORT_PROGRESS: 'never' } });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /dry run: 1 events written to the outbox, nothing sent/);
  assert.match(run.stderr, /records: 2 in, 1 out as 1 events, 0 rejected, 1 dropped/);
});
