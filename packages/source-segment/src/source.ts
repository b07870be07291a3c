import { exportFilesSource } from '@hogport/source-files';
import { mapSegmentMessage } from './segment.js';

/**
 * Segment's S3/GCS logs (gzip JSON lines, sometimes already decompressed). Segment delivers at
 * least once: the same message again in one chunk is dropped by rule (it has the same uuid anyway).
 */
export const segmentSource = exportFilesSource('segment', {
  pattern: '**/*.gz', format: 'jsonl', version: 6,
  mapper: () => {
    const seen = new Set<string>();
    return (v) => {
      const m = mapSegmentMessage(v);
      // An alias call is a link alone: a redelivered one names the same pair, which the merge step links once.
      if (!('events' in m) || m.events.length === 0) return m;
      const uuid = m.events[0]!.uuid;
      if (seen.has(uuid)) return { drop: 'duplicate_message' };
      seen.add(uuid);
      return m;
    };
  },
});
