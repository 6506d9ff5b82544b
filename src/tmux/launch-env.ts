/**
 * How a launched program gets its environment without any value sitting in a long-lived argv
 * (invariant 15). `new-window -e NAME=VALUE` would put the value in the tmux client's argv, and
 * in the tmux server's for its whole life when that client is the one that starts the server (the
 * server is forked from it). Instead the values go into a 0600 file in a 0700 directory; the pane
 * runs a tiny `sh` wrapper that reads the file, deletes it and `exec`s the program, so the
 * program keeps the pane's pid and nothing but the file's path is ever in an argv.
 *
 * The environment is the caller's (as pm2 gives a started process the caller's), with the
 * session's `--env` values over it: not whatever the tmux server was started with.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WardenError } from '../model/errors.js';

/**
 * Where the files go: the user's runtime directory (a tmpfs of the user's own, so the values
 * never reach a disk), else a directory of the user's own under the temporary directory.
 */
export function defaultLaunchDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'tmux-warden');
  return join(tmpdir(), `tmux-warden-${process.getuid?.() ?? 'user'}`);
}

/** The directory must be ours and closed to others: under /tmp, someone else could have made it first. */
function assertPrivate(dir: string): void {
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
    throw new WardenError('STATE_IO', `${dir} is not a private directory of this user (mode 0700): remove it, it is made again`);
  }
}

/** Variables that describe the caller's terminal or shell, not the program's: tmux sets its own. */
const NOT_INHERITED = new Set(['TMUX', 'TMUX_PANE', 'TERM', 'TERM_PROGRAM', 'TERM_PROGRAM_VERSION', 'COLUMNS', 'LINES', 'PWD', 'OLDPWD', 'SHLVL', '_']);
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A file left by a launch that never ran (its process killed meanwhile) is removed after this long. */
const STALE_MS = 10 * 60_000;

/**
 * Reads the file named by $1, removes it, then runs the rest: one argument through the user's
 * shell (as tmux runs a single-string command), several as argv. A program that is not found is
 * reported by the shell on the pane (and so in its log and its last output), which tmux's own
 * exec of an argv does not do.
 */
const WRAPPER =
  'f=$1; shift; . "$f"; s=$?; rm -f "$f"; [ "$s" -eq 0 ] || exit 126; ' +
  'if [ $# -eq 1 ]; then exec "${SHELL:-/bin/sh}" -c "$1"; fi; exec "$@"';

/** The environment a launch gives its program: the caller's, then `extra` over it. */
export function launchEnvironment(extra: Record<string, string>, caller: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(caller)) {
    if (value === undefined || NOT_INHERITED.has(name) || !SHELL_NAME.test(name)) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

function shellAssignment(name: string, value: string): string {
  return `export ${name}='${value.replaceAll("'", `'\\''`)}'\n`;
}

/** Writes `env` to a new 0600 file in `dir` (made 0700) and returns its path. */
export function writeEnvFile(dir: string, env: Record<string, string>): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  assertPrivate(dir);
  sweep(dir);
  const file = join(dir, `${Date.now()}-${randomBytes(8).toString('hex')}.env`);
  const body = Object.entries(env)
    .filter(([name]) => SHELL_NAME.test(name))
    .map(([name, value]) => shellAssignment(name, value))
    .join('');
  writeFileSync(file, body, { mode: 0o600, flag: 'wx' });
  return file;
}

/** Removes a file `writeEnvFile` made whose launch did not happen. */
export function removeEnvFile(file: string): void {
  rmSync(file, { force: true });
}

/** The argv a pane runs: the wrapper, the env file, then the program. */
export function withEnvFile(file: string, command: readonly string[]): string[] {
  return ['sh', '-c', WRAPPER, 'warden-launch', file, ...command];
}

function sweep(dir: string): void {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.env')) continue;
    const file = join(dir, name);
    try {
      if (now - statSync(file).mtimeMs > STALE_MS) rmSync(file, { force: true });
    } catch {
      // Gone already: its launch read it.
    }
  }
}
