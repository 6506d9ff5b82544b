/**
 * Test support: the BUILT `warden` (dist/src/cli.js, built by `npm test` before vitest) run as a
 * subprocess on a test tmux server and a state file of the test's own.
 */
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { z } from 'zod';
import { SessionInfoSchema, StateDocumentSchema, type SessionInfo, type StateDocument } from '../../src/model/schema.js';
import type { TmuxTestServer } from './tmux-server.js';

export const CLI_PATH = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run 'npm run build' (npm test does)`);

/** The caller's environment without what would change the CLI's behaviour under test. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(TMUX|TMUX_PANE|NO_COLOR|FORCE_COLOR|WARDEN_.*)$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface Warden {
  stateFile: string;
  /** Runs `warden --socket … --state … ARGS`; never rejects, look at `exitCode`. */
  run(args: string[], options?: { env?: Record<string, string>; cwd?: string }): Promise<CliResult>;
  /** The exact bytes of the state file, or null when it does not exist. */
  stateBytes(): Buffer | null;
  /** The argv that runs this warden, for a shell in a tmux pane. */
  argv(args: string[]): string[];
}

export function warden(server: TmuxTestServer, stateFile = server.stateFile()): Warden {
  const argv = (args: string[]) => [process.execPath, CLI_PATH, '--socket', server.socket, '--state', stateFile, ...args];
  return {
    stateFile,
    argv,
    async run(args, options = {}) {
      const [bin, ...rest] = argv(args);
      const result = await execa(bin!, rest, { reject: false, env: cleanEnv(options.env), extendEnv: false, stdin: 'ignore', stripFinalNewline: false, cwd: options.cwd });
      return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
    stateBytes: () => (existsSync(stateFile) ? readFileSync(stateFile) : null),
  };
}

/** Quotes argv for a POSIX shell (typed into a tmux pane by a test). */
export function shellLine(argv: string[]): string {
  return argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
}

/** The parsed JSON of a successful run (exit 0, nothing on stderr). */
export function json<T>(schema: z.ZodType<T>, result: CliResult): T {
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return schema.parse(JSON.parse(result.stdout));
}

/** The session object a successful run printed, exactly as DESIGN shapes it. */
export function session(result: CliResult): SessionInfo {
  return json(SessionInfoSchema.strict(), result);
}

/** A refusal: its exit code, exactly one line on stderr naming the fix, nothing on stdout. */
export function refused(result: CliResult, exitCode: number, says: RegExp): void {
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^warden: [^\n]+\n$/);
  expect(result.stderr).toMatch(says);
  expect(result.exitCode).toBe(exitCode);
}

export function readState(file: string): StateDocument {
  return StateDocumentSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** A program that stays up until killed, after the `--` of spawn. */
export const LONG = ['--', 'sleep', '600'];
