import cliProgress from 'cli-progress';
import type { RunEvent } from '@hogport/runner';

/**
 * A progress bar on a terminal (chunks and records done, records/s, ETA); nothing when stderr is
 * not a terminal, where the JSON log is the record of progress.
 */
export function progressReporter(label: string, totalChunks: number): { onEvent(e: RunEvent): void; stop(): void } {
  if (!process.stderr.isTTY || totalChunks === 0) return { onEvent() {}, stop() {} };
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {value}/{total} chunks | {records} records | {rate}/s | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  const started = Date.now();
  let records = 0;
  let done = 0;
  bar.start(totalChunks, 0, { records: 0, rate: 0 });
  const payload = () => ({ records, rate: Math.round(records / Math.max(0.001, (Date.now() - started) / 1000)) });
  return {
    onEvent(e) {
      if (e.type === 'progress') records += e.records;
      if (e.type === 'done' || e.type === 'skipped' || e.type === 'failed') done += 1;
      bar.update(Math.min(done, totalChunks), payload());
    },
    stop() { bar.update(Math.min(done, totalChunks), payload()); bar.stop(); },
  };
}
