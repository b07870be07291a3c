import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runCli } from './cli-runner.js';
import { runDryMigration, type MigrationRun, type Owner } from './conformance.js';

/**
 * One record of an export-files source, and the file (relative to the location) it is written to;
 * `copies` writes it that many times into its file, as a log that delivered it more than once.
 */
export interface ExportFile { file: string; record: unknown; copies?: number }

/**
 * Records of a source that reads export files (Segment, GA4, Heap) as one migration, the way a user
 * runs one: each record a JSON line in a file of its own under the source's location (so each is a
 * chunk, and every outcome stays its record's), into a dry run through `hogport run`. File names are
 * made of letters, digits, `/`, `_`, `-` and `.`, so the chunk id is the path with `/` as `~`.
 */
export async function runExportFiles(options: { type: string; files: ExportFile[]; owner: (i: number) => Owner; pattern?: string }): Promise<MigrationRun> {
  const dir = await mkdtemp(path.join(tmpdir(), `hogport-field-table-${options.type}-`));
  const chunks: string[] = [];
  for (const { file, record, copies = 1 } of options.files) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_./-]*$/.test(file) || file.includes('..')) throw new Error(`"${file}" would not be its own readable chunk id`);
    const full = path.join(dir, 'export', file);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, `${JSON.stringify(record)}\n`.repeat(copies));
    chunks.push(file.replace(/\//g, '~'));
  }
  try {
    return await runDryMigration({
      dir, migration: 'field-table', chunks, run: (args, env) => runCli(args, { env: env ?? {} }), owner: options.owner,
      source: `{ type: ${options.type}, location: ./export${options.pattern ? `, pattern: "${options.pattern}"` : ''} }`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
