/**
 * The built `warden` (see ./cli.ts) as processes that can be started in bulk and SIGKILLed: the
 * cross-process behaviour (lock, revisions, crash recovery) is only real across processes.
 */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { CLI_PATH, cleanEnv, readState } from './cli.js';

export const CLI = CLI_PATH;
export { readState };

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
    env: cleanEnv(options.env),
    extendEnv: false,
    stdin: 'ignore',
  }) as unknown as WardenProcess;
}

export async function warden(target: CliTarget, args: string[], options: Parameters<typeof startWarden>[2] = {}): Promise<CliResult> {
  const r = await startWarden(target, args, options);
  return { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The state file's bytes, or null when absent: "nothing stored changed" compares these. */
export function stateBytes(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Whether process `pid` is stopped (SIGSTOP): state `T` in /proc. */
export function processStopped(pid: number | undefined): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  } catch {
    return false;
  }
}
