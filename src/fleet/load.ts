/**
 * Finding and reading a sessions file, and turning each entry into the launch spec it asks for:
 * paths resolved against the file's directory, `passEnv` read from the caller's environment.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { InvalidInputError, StateFileError } from '../model/errors.js';
import { RestartPolicySchema, type LaunchSpec, type WorktreeRequest } from '../model/schema.js';
import { parseSourceFile, sourceIssue, type SourceFile } from '../model/source-file.js';
import { SessionsFileSchema, unknownFleetKey, type FleetEntry } from './schema.js';

/** The names `up` looks for in the current directory, in this order. */
export const SESSIONS_FILE_NAMES = ['warden.yaml', 'warden.yml', 'warden.json'] as const;

/** The label that marks a session as started from a sessions file (its absolute path). */
export const FLEET_LABEL = 'warden.fleet';

/** One session the file asks for, as a launch spec (the command a template). */
export interface DesiredSession {
  key: string;
  spec: LaunchSpec;
}

/** A sessions file, read and resolved. */
export interface Fleet {
  file: string;
  sessions: DesiredSession[];
}

/** `-f FILE`, else the first of `warden.yaml`, `warden.yml`, `warden.json` in `dir`. */
export function locateSessionsFile(named: string | undefined, dir = process.cwd()): string {
  if (named) return path.resolve(dir, named);
  const found = SESSIONS_FILE_NAMES.map((name) => path.join(dir, name)).find((file) => existsSync(file));
  if (!found) throw new InvalidInputError(`no ${SESSIONS_FILE_NAMES.join(', ')} in ${dir}: write one or name it with -f FILE`);
  return found;
}

/**
 * Reads and validates the sessions file and resolves its entries.
 * @throws InvalidInputError naming the file, the line and the field.
 */
export async function readSessionsFile(file: string, options: { group: string; env?: NodeJS.ProcessEnv }): Promise<Fleet> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InvalidInputError(`sessions file ${file} does not exist: create it or fix -f`);
    throw new StateFileError('STATE_IO', file, `cannot read sessions file ${file}: ${(err as Error).message}`, err);
  }
  const source = await parseSourceFile(file, text, 'sessions file');
  const parsed = SessionsFileSchema.safeParse(source.data);
  if (!parsed.success) throw sourceIssue(source, parsed.error, 'sessions file', { unknownKey: unknownFleetKey });
  const sessions = Object.entries(parsed.data.sessions).map(([key, entry]) => ({
    key,
    spec: desiredSpec(source, key, entry, options.group, options.env ?? process.env),
  }));
  return { file, sessions };
}

/** The launch spec an entry asks for. */
function desiredSpec(source: SourceFile, key: string, entry: FleetEntry, group: string, env: NodeJS.ProcessEnv): LaunchSpec {
  const where = (field: string, extra: PropertyKey[] = []) => `sessions file ${source.file}:${source.lineOf(['sessions', key, field, ...extra])} sessions.${key}.${field}`;
  const dir = path.dirname(source.file);
  const resolve = (given: string) => path.resolve(dir, given.replace(/^~(?=$|\/)/, homedir()));
  const cwd = entry.cwd ? resolve(entry.cwd) : dir;
  if (!isDirectory(cwd)) throw new InvalidInputError(`invalid ${where('cwd')}: ${cwd} is not a directory: create it or fix the path`);
  const worktree = worktreeRequest(entry.worktree, cwd, resolve);
  if (worktree && !isDirectory(worktree.repo)) {
    throw new InvalidInputError(`invalid ${where('worktree', ['repo'])}: ${worktree.repo} is not a directory: create it or fix the path`);
  }
  // Checked now, so `up` says which is missing; only the names are stored (invariant 15).
  (entry.passEnv ?? []).forEach((name, i) => {
    if (env[name] === undefined) throw new InvalidInputError(`invalid ${where('passEnv', [i])}: ${name} is not set in this environment: set it or drop it`);
  });
  const restart = typeof entry.restart === 'string' ? RestartPolicySchema.parse({ policy: entry.restart }) : entry.restart;
  return {
    command: typeof entry.command === 'string' ? ['sh', '-c', entry.command] : entry.command,
    cwd,
    env: { ...entry.env },
    ...(entry.passEnv?.length ? { passEnv: entry.passEnv } : {}),
    profile: entry.profile ?? null,
    labels: { ...entry.labels, [FLEET_LABEL]: source.file },
    group: entry.group ?? group,
    resumeCommand: entry.resumeCommand ?? null,
    ...(restart && restart.policy !== 'no' ? { restart } : {}),
    worktree,
  };
}

/** The worktree an entry asks for, as `spawn --worktree [BRANCH] [--repo DIR] [--base REF]` records it. */
function worktreeRequest(asked: FleetEntry['worktree'], cwd: string, resolve: (given: string) => string): WorktreeRequest | null {
  if (asked === undefined || asked === false) return null;
  if (asked === true) return { repo: cwd, branch: null, base: null };
  if (typeof asked === 'string') return { repo: cwd, branch: asked, base: null };
  return { repo: asked.repo ? resolve(asked.repo) : cwd, branch: asked.branch ?? null, base: asked.base ?? null };
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
