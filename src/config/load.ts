/**
 * Where the user's config file is and how it is read. `readConfigFile` is the one function that
 * reads a config file (hooks in it run commands): checks on who may write it belong there.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { InvalidInputError, StateFileError } from '../model/errors.js';
import { formatIssue } from '../model/issues.js';
import { parseSourceFile, sourceIssue, type SourceFile } from '../model/source-file.js';
import { assertTrustedConfig } from '../store/trust.js';
import { ConfigSchema, unknownConfigKey, type Config } from './schema.js';

/** The name of the config file older releases read beside the state file (still read, deprecated). */
export const CONFIG_FILE_NAME = 'warden.config.json';

/** `$XDG_CONFIG_HOME/tmux-warden/config.yaml`, else `~/.config/tmux-warden/config.yaml`. */
export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(homedir(), '.config');
  return path.join(base, 'tmux-warden', 'config.yaml');
}

/** `warden.config.json` in the directory of the state file: where older releases read hooks. */
export function defaultConfigPath(stateFile: string): string {
  return path.join(path.dirname(stateFile), CONFIG_FILE_NAME);
}

/** Which config file a process reads, and how it came to be chosen. */
export interface ConfigLocation {
  file: string;
  /** Named by the user (`--config`, `$WARDEN_CONFIG`): a missing file is an error. */
  required: boolean;
  /** The old file beside the state file: read, with a note saying where it belongs now. */
  deprecated: boolean;
}

/**
 * The config file: `named` (`--config` or `$WARDEN_CONFIG`), else the user's config file, else the
 * old `warden.config.json` beside the state file; null when there is none.
 */
export function locateConfig(options: { named?: string | undefined; stateFile: string; env?: NodeJS.ProcessEnv }): ConfigLocation | null {
  if (options.named) return { file: path.resolve(options.named), required: true, deprecated: false };
  const user = userConfigPath(options.env);
  if (existsSync(user)) return { file: user, required: false, deprecated: false };
  const legacy = path.resolve(defaultConfigPath(options.stateFile));
  if (existsSync(legacy)) return { file: legacy, required: false, deprecated: true };
  return null;
}

/**
 * Validates a parsed config; `source` names it in errors (a path, usually).
 * @throws InvalidInputError with one line naming the source and the field.
 */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const result = ConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new InvalidInputError(formatIssue(result.error, { subject: `config ${source}`, unknownKey: unknownConfigKey }));
}

/** Validates the parsed `source`; errors name its file, line and field. */
function validate(source: SourceFile): Config {
  const result = ConfigSchema.safeParse(source.data);
  if (result.success) return result.data;
  throw sourceIssue(source, result.error, 'config', { unknownKey: unknownConfigKey });
}

/**
 * Reads and validates a config file (YAML or JSON). A missing file is `null` unless `required`
 * (a file the user named): then it is an error, like a file that does not parse or validate.
 * @throws InvalidInputError naming the file, the line and the field; StateFileError when it cannot be read.
 */
export async function readConfigFile(file: string, options: { required?: boolean } = {}): Promise<Config | null> {
  let text: string;
  try {
    // Its hooks run as this user: a config another user owns or can write is refused, unread.
    assertTrustedConfig(file);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !options.required) return null;
    if (code === 'ENOENT') throw new InvalidInputError(`config ${file} does not exist: create it or drop --config`);
    throw new StateFileError('STATE_IO', file, `cannot read config ${file}: ${(err as Error).message}`, err);
  }
  return validate(await parseSourceFile(file, text, 'config'));
}
