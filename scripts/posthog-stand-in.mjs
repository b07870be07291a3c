#!/usr/bin/env node
// A local PostHog stand-in (capture /batch/ and the query API) for trying hogport without a
// project, and for benchmarks. Prints {"url": ...} on its first line of stdout. Commands on stdin,
// one per line: "stats" prints {"events", "uuids", "requests"}; "reset" forgets everything;
// "storm <seconds>" answers every capture request 429 with that Retry-After until "calm"; with
// --timeline, "timeline" prints [[ms since the epoch, events], ...] of every accepted request.
//
//   node scripts/posthog-stand-in.mjs --token phc_local [--project 1 --personal-key phx_local] [--count-only]
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startFakePostHog } from '../packages/testkit/dist/index.js';

const { values } = parseArgs({
  options: {
    token: { type: 'string', default: 'phc_local' },
    project: { type: 'string' },
    'personal-key': { type: 'string' },
    'count-only': { type: 'boolean', default: false },
    timeline: { type: 'boolean', default: false },
  },
});
const server = await startFakePostHog({
  token: values.token,
  keepEvents: !values['count-only'],
  timeline: values.timeline,
  ...(values.project && values['personal-key'] ? { query: { projectId: values.project, personalKey: values['personal-key'] } } : {}),
});
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const command = line.trim();
  if (command === 'stats') {
    process.stdout.write(`${JSON.stringify({ events: server.accepted.events, uuids: server.accepted.uuids.size, requests: server.requests.length })}\n`);
  } else if (command.startsWith('storm')) {
    server.throttled = Number(command.split(/\s+/)[1] ?? 1);
    process.stdout.write(`${JSON.stringify({ storm: server.throttled })}\n`);
  } else if (command === 'calm') {
    server.throttled = undefined;
    process.stdout.write('{"storm":null}\n');
  } else if (command === 'timeline') {
    process.stdout.write(`${JSON.stringify(server.timeline)}\n`);
  } else if (command === 'reset') {
    server.timeline.length = 0;
    server.events.length = 0;
    server.requests.length = 0;
    server.accepted.events = 0;
    server.accepted.uuids.clear();
    process.stdout.write('{"reset":true}\n');
  }
});
rl.on('close', () => { void server.close().then(() => process.exit(0)); });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { void server.close().then(() => process.exit(0)); });
