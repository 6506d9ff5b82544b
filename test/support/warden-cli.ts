/**
 * Runs the built `warden` CLI (dist/src/cli.js) as a separate process, the way a user or a script
 * does: the cross-process behaviour (lock, revisions, crash recovery) is only real across processes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { StateDocumentSchema, type StateDocument } from '../../src/schema.js';

export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface CliTarget {
  state: string;
  socket: string;
}

export interface CliResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

/** A running CLI process: a promise of its result, and the handle to kill it. */
export type WardenProcess = Promise<CliResult> & { pid?: number | undefined; kill: (signal?: NodeJS.Signals) => boolean };

/** Starts `warden --socket S --state F …args`; the promise never rejects (look at exitCode/signal). */
export function startWarden(target: CliTarget, args: string[], options: { env?: Record<string, string> } = {}): WardenProcess {
  return execa(process.execPath, [CLI, '--socket', target.socket, '--state', target.state, ...args], {
    reject: false,
    encoding: 'utf8',
    env: options.env ?? {},
    stdin: 'ignore',
  }) as unknown as WardenProcess;
}

export async function warden(target: CliTarget, args: string[], options: Parameters<typeof startWarden>[2] = {}): Promise<CliResult> {
  const r = await startWarden(target, args, options);
  return { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The state file, parsed and validated (throws if it does not). */
export function readState(file: string): StateDocument {
  return StateDocumentSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** The state file's bytes, or null when absent: "nothing stored changed" compares these. */
export function stateBytes(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
