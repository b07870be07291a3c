import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';

// The SDK's notice about future versions needing Node 22 is about the pinned SDK, not the code under test.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { freePort } from './net.js';

export interface Moto {
  endpoint: string;
  /** Creates a bucket and returns an `s3://` store URI on it, with the endpoint in its query string. */
  bucket(name: string, prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * An S3 endpoint for tests: the one `.ci/run` started (HOGPORT_TEST_S3_ENDPOINT), or a `moto_server`
 * started here on a free port and stopped by `stop()`. There is no fallback: S3 tests must talk to a
 * real S3 implementation, so a missing moto_server is an error, not a skip.
 */
export async function startMoto(): Promise<Moto> {
  // The SDK wants credentials even for moto; these fake ones never leave the machine.
  process.env.AWS_ACCESS_KEY_ID ??= 'testing';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
  process.env.AWS_REGION ??= 'us-east-1';
  let child: ChildProcess | undefined;
  let endpoint = process.env.HOGPORT_TEST_S3_ENDPOINT;
  if (!endpoint) {
    const which = spawnSync('sh', ['-c', 'command -v moto_server']);
    if (which.status !== 0) {
      throw new Error('moto_server is not installed: the S3 tests need it (pip install "moto[server]")');
    }
    const port = await freePort();
    child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    endpoint = `http://127.0.0.1:${port}`;
    await waitForHttp(endpoint, 20_000);
  }
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1' });
  return {
    endpoint,
    async bucket(name: string, prefix = 'data') {
      await client.send(new CreateBucketCommand({ Bucket: name })).catch((err: { name?: string }) => {
        if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
      });
      return `s3://${name}/${prefix}?endpoint=${encodeURIComponent(endpoint!)}&path_style=true&region=us-east-1`;
    },
    async stop() {
      client.destroy();
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`moto_server did not answer at ${url} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
