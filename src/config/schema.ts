/**
 * The user's config file (`$XDG_CONFIG_HOME/tmux-warden/config.yaml`): hooks, activity profiles
 * and defaults, validated by zod; its JSON Schema is generated from this one.
 */
import { z } from 'zod';
import { SESSION_STATE_PATHS } from '../../machines/paths.js';
import { ProfileSchema, ProfilesSchema } from '../activity/profiles.js';
import { GroupSchema, RestartPolicySchema } from '../model/schema.js';

const DEFAULT_HOOK_TIMEOUT_MS = 10_000;
const COMMAND_SHAPE = 'a hook is a shell command string, {"run": "...", "timeoutMs": N}, or a list of them';

/** One hook: a shell command (run with `sh -c`), or the command with its own timeout. */
export const HookCommandSchema = z.union(
  [
    z.string().min(1, 'a hook command may not be empty'),
    z.strictObject({
      run: z.string().min(1, 'a hook command may not be empty'),
      timeoutMs: z.number().int().positive().max(3_600_000).optional(),
    }),
  ],
  { error: COMMAND_SHAPE },
);
/** One hook as the config file writes it. */
export type HookCommand = z.infer<typeof HookCommandSchema>;

/** What a hook may be attached to: a state path of the machine, or `*` for every transition. */
export const HOOK_STATE_NAMES: readonly string[] = [...SESSION_STATE_PATHS, '*'];

/** What `spawn` and `up` use when a session does not say. */
export const DefaultsSchema = z.strictObject({
  /** The tmux session that holds new windows (`warden` otherwise). */
  group: GroupSchema.optional(),
  /** The restart policy of a new session that names none. */
  restart: RestartPolicySchema.optional(),
});

/**
 * The config file: `{ hookTimeoutMs: 10000, hooks: { orphaned: "notify-send …" }, profiles: {…},
 * defaults: {…} }`. Hooks are read from here only, never from a project's directory.
 */
export const ConfigSchema = z.strictObject({
  /** Lets editors validate the file; ignored. */
  $schema: z.string().optional(),
  /** Timeout of every hook without its own `timeoutMs`; 10 s by default. */
  hookTimeoutMs: z.number().int().positive().max(3_600_000).default(DEFAULT_HOOK_TIMEOUT_MS),
  hooks: z
    .partialRecord(z.enum(HOOK_STATE_NAMES as [string, ...string[]]), z.union([HookCommandSchema, z.array(HookCommandSchema)], { error: COMMAND_SHAPE }))
    .default({}),
  /** Activity profiles beside the built-in ones (docs/activity.md); one named like a built-in replaces it. */
  profiles: ProfilesSchema.default({}),
  defaults: DefaultsSchema.optional(),
});
/** A validated config file, defaults applied. */
export type Config = z.infer<typeof ConfigSchema>;
/** A config as written by hand (defaults optional). */
export type ConfigInput = z.input<typeof ConfigSchema>;

/** What to say of an unknown field of the config, by where it is. */
export function unknownConfigKey(path: PropertyKey[], key: string): string {
  const where = path.map(String).join('.');
  const quoted = JSON.stringify(key);
  if (where === 'hooks') return `unknown state ${quoted}: use one of ${HOOK_STATE_NAMES.join(', ')}`;
  if (where === '') return `unknown field ${quoted}: the fields are hookTimeoutMs, hooks, profiles, defaults`;
  if (where === 'defaults') return `unknown field ${quoted}: the fields are group, restart`;
  if (where.startsWith('profiles.')) return `unknown field ${quoted}: the fields are ${Object.keys(ProfileSchema.shape).join(', ')}`;
  return `unknown field ${quoted}: the fields are run, timeoutMs`;
}
