// One sample draw over generated persons: what a sampled load runs before its first chunk.
import { drawMembers } from '@hogport/runner';

const [persons, percent] = process.argv.slice(2).map(Number);
/** A user with three devices of its own, and every 50th device shared with the next user: Amplitude's shape. */
async function* links() {
  for (let u = 0; u < persons; u++) {
    const user = `user-${u.toString(36)}@example.com`;
    for (let d = 0; d < 3; d++) yield [`device-${(u * 3 + d).toString(16).padStart(12, '0')}`, user];
    if (u % 50 === 0 && u + 1 < persons) yield [`device-${(u * 3).toString(16).padStart(12, '0')}`, `user-${(u + 1).toString(36)}@example.com`];
  }
}
const r = await drawMembers(percent, links());
console.log(JSON.stringify({ clusters: r.clusters, linkedIds: r.linkedIds, rounds: r.rounds, held: r.members.held }));
