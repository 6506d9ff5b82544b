/**
 * What a spawn asks for, validated: the key, and the launch spec built from the caller's options
 * and what is stored. Errors name the CLI flag that carries each field.
 */
import { statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { InvalidInputError } from '../model/errors.js';
import { formatIssue } from '../model/issues.js';
import { isDeepStrictEqual } from 'node:util';
import { KeySchema, LaunchSpecSchema, RestartPolicySchema, type LaunchKind, type LaunchSpec } from '../model/schema.js';
import type { SpawnOptions } from './types.js';

/** The CLI flag that carries each field of a launch spec. */
const SPEC_FLAGS: Record<string, string> = {
  env: '--env',
  passEnv: '--pass-env',
  labels: '--label',
  cwd: '--cwd',
  group: '--group',
  resumeCommand: '--resume-command',
  restart: '--restart',
  profile: '--profile',
};

/** `{sessionId}` and `{key}` in a command template. */
export function substitute(template: string, context: { sessionId: string; key: string }): string {
  return template.replaceAll('{sessionId}', context.sessionId).replaceAll('{key}', context.key);
}

/** The argv a launch of `kind` runs: the resume command when relaunching one that has it, else the command. */
export function launchedCommand(spec: LaunchSpec, kind: LaunchKind, vars: { sessionId: string; key: string }): string[] {
  if (kind !== 'create' && spec.resumeCommand) return [substitute(spec.resumeCommand, vars)];
  return spec.command.map((a) => substitute(a, vars));
}

/**
 * Returns `key` if it is a valid session key.
 * @throws InvalidInputError naming the rule otherwise.
 */
export function validateKey(key: unknown): string {
  const parsed = KeySchema.safeParse(key);
  if (!parsed.success) {
    throw new InvalidInputError(
      `invalid key ${JSON.stringify(key)}: use 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit`,
    );
  }
  return parsed.data;
}

/**
 * The launch spec of a spawn: each option given replaces the stored one as a whole (an `env` or
 * `labels` given is the new set, not merged), an option not given keeps the stored one, and a new
 * session gets the defaults: the caller's directory as `cwd`, so a resume runs where the first
 * launch ran. An empty `resumeCommand` clears the stored one.
 */
export function buildSpec(key: string, options: SpawnOptions, stored: LaunchSpec | null, defaultGroup: string): LaunchSpec {
  const restart = options.restart === undefined ? stored?.restart : options.restart ?? undefined;
  const parsed = LaunchSpecSchema.safeParse({
    command: options.command && options.command.length ? options.command : stored?.command ?? [],
    // tmux runs the program from its server's directory: a relative --cwd means the caller's.
    cwd: options.cwd ? resolvePath(options.cwd) : stored ? stored.cwd : process.cwd(),
    env: options.env ?? stored?.env ?? {},
    passEnv: options.passEnv ?? stored?.passEnv,
    labels: options.labels ?? stored?.labels ?? {},
    group: options.group ?? stored?.group ?? defaultGroup,
    resumeCommand: options.resumeCommand === '' ? null : options.resumeCommand ?? stored?.resumeCommand ?? null,
    // Given as null: cleared (chosen from the command again); not given: the stored one.
    profile: options.profile === undefined ? stored?.profile ?? null : options.profile,
    ...(restart && restart.policy !== 'no' ? { restart: RestartPolicySchema.parse(restart) } : {}),
  }, { reportInput: true });
  if (!parsed.success) {
    throw new InvalidInputError(formatIssue(parsed.error, { subject: `spawn ${key}`, nameOf: (path) => SPEC_FLAGS[String(path[0])] }));
  }
  const spec = parsed.data;
  if (spec.passEnv?.length === 0) delete spec.passEnv;
  for (const name of options.passEnv ?? []) {
    if (process.env[name] === undefined) {
      throw new InvalidInputError(`--pass-env ${name}: ${name} is not set in this environment: export it first, or drop --pass-env ${name}`);
    }
  }
  if (spec.command[0]!.trim() === '') {
    throw new InvalidInputError(`spawn ${key}: the command is empty: name a program after --`);
  }
  if (spec.cwd !== null && !isDirectory(spec.cwd)) {
    if (options.cwd) throw new InvalidInputError(`--cwd ${spec.cwd} is not a directory: create it or pass an existing one`);
    // The stored directory: the user named none, so do not blame a --cwd.
    throw new InvalidInputError(
      `${key} ran in ${spec.cwd}, which is no longer a directory: recreate it, or start ${key} elsewhere with 'warden spawn ${key} --mode fresh --cwd DIR'`,
    );
  }
  return spec;
}

/**
 * The fields of `options` given with a value other than the stored one: what a resume or an
 * ensure would have to drop silently, since neither changes a session's spec.
 */
export function differingFields(options: SpawnOptions, stored: LaunchSpec): string[] {
  const differs: string[] = [];
  if (options.command?.length && !isDeepStrictEqual(options.command, stored.command)) differs.push('command');
  if (options.cwd && resolvePath(options.cwd) !== stored.cwd) differs.push('cwd');
  if (options.env !== undefined && !isDeepStrictEqual(options.env, stored.env)) differs.push('env');
  if (options.labels !== undefined && !isDeepStrictEqual(options.labels, stored.labels)) differs.push('labels');
  if (options.group !== undefined && options.group !== stored.group) differs.push('group');
  if (options.restart !== undefined && !sameRestart(options.restart, stored.restart)) differs.push('restart');
  if (options.worktree && !sameWorktree(options.worktree, stored.worktree)) differs.push('worktree');
  return differs;
}

function sameWorktree(given: NonNullable<SpawnOptions['worktree']>, stored: LaunchSpec['worktree']): boolean {
  if (!stored) return false;
  return resolvePath(given.repo ?? process.cwd()) === stored.repo && (given.branch ?? null) === stored.branch && (given.base ?? null) === stored.base;
}

function sameRestart(given: SpawnOptions['restart'], stored: LaunchSpec['restart']): boolean {
  const normal = (policy: SpawnOptions['restart'] | LaunchSpec['restart']) =>
    policy && policy.policy !== 'no' ? RestartPolicySchema.parse(policy) : null;
  return isDeepStrictEqual(normal(given), normal(stored));
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
