/**
 * What a spawn asks for, validated: the key, and the launch spec built from the caller's options
 * and what is stored. Errors name the CLI flag that carries each field.
 */
import { statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { InvalidInputError } from '../model/errors.js';
import { formatIssue } from '../model/issues.js';
import { KeySchema, LaunchSpecSchema, type LaunchSpec } from '../model/schema.js';
import type { SpawnOptions } from './types.js';

/** The CLI flag that carries each field of a launch spec. */
const SPEC_FLAGS: Record<string, string> = {
  env: '--env',
  labels: '--label',
  cwd: '--cwd',
  group: '--group',
  resumeCommand: '--resume-command',
  profile: '--profile',
};

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

/** The launch spec of a spawn: the options given, else what is stored, else the defaults. */
export function buildSpec(key: string, options: SpawnOptions, stored: LaunchSpec | null, defaultGroup: string): LaunchSpec {
  const parsed = LaunchSpecSchema.safeParse({
    command: options.command && options.command.length ? options.command : stored?.command ?? [],
    // tmux runs the program from its server's directory: a relative --cwd means the caller's.
    cwd: options.cwd ? resolvePath(options.cwd) : stored?.cwd ?? null,
    env: options.env ?? stored?.env ?? {},
    labels: options.labels ?? stored?.labels ?? {},
    group: options.group ?? stored?.group ?? defaultGroup,
    resumeCommand: options.resumeCommand ?? stored?.resumeCommand ?? null,
    profile: options.profile ?? stored?.profile ?? null,
  });
  if (!parsed.success) {
    throw new InvalidInputError(formatIssue(parsed.error, { subject: `spawn ${key}`, nameOf: (path) => SPEC_FLAGS[String(path[0])] }));
  }
  const spec = parsed.data;
  if (spec.command[0]!.trim() === '') {
    throw new InvalidInputError(`spawn ${key}: the command is empty: name a program after --`);
  }
  if (spec.cwd !== null && !isDirectory(spec.cwd)) {
    throw new InvalidInputError(`--cwd ${spec.cwd} is not a directory: create it or pass an existing one`);
  }
  return spec;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
