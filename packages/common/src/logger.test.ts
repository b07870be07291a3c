import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, readSecret, redact } from './index.js';

test('scrubs secret values read from the environment from every log line, whatever field holds them', () => {
  const secret = readSecret('HOGPORT_TEST_KEY', { HOGPORT_TEST_KEY: 'phc_secret_value_for_logger_test' })!;
  const lines: string[] = [];
  const log = createLogger({ destination: { write: (l: string) => { lines.push(l); } } });
  log.info({ url: `https://x/?k=${secret}`, nested: { api_key: 'another-value-123' } }, `failed with ${secret}`);
  const text = lines.join('');
  assert.ok(!text.includes(secret));
  assert.ok(!text.includes('another-value-123'), 'key-like fields are redacted even when their value is not known');
  assert.match(text, /\[redacted\]/);
  assert.equal(redact(`Error: key ${secret} refused`), 'Error: key [redacted] refused');
});
