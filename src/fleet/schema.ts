/**
 * The sessions file (`warden.yaml`, or JSON) that `up` and `down` read: sessions only, never
 * hooks. Validated by zod; its JSON Schema is generated from this one.
 */
import { z } from 'zod';
import { EnvNameSchema, GroupSchema, KeySchema, LabelNameSchema, PlainTextSchema, RESTART_POLICIES, RestartPolicySchema } from '../model/schema.js';

/** A value a YAML author may write unquoted (`PORT: 8080`): stored as text. */
const EnvValueSchema = z.union([PlainTextSchema, z.number(), z.boolean()]).transform(String);

/** One session of the file. */
export const FleetEntrySchema = z.strictObject({
  /** argv (`[claude, --session-id, "{sessionId}"]`), or a string run by `sh -c`. */
  command: z.union([z.array(PlainTextSchema).min(1, 'a command needs a program'), PlainTextSchema.min(1, 'a command may not be empty')]),
  /** Used to relaunch it after an exit or a reboot; `{sessionId}` and `{key}` are substituted. */
  resumeCommand: PlainTextSchema.min(1).optional(),
  /** Relative to the file's directory; `~` is the home directory. The file's directory by default. */
  cwd: z.string().min(1).optional(),
  env: z.record(EnvNameSchema, EnvValueSchema).optional(),
  /**
   * Names whose values are read from the environment of the process that launches the program, at
   * each launch (`up`, a later resume or restart): only the names are stored, never the values.
   */
  passEnv: z.array(EnvNameSchema).optional(),
  /** The activity profile (`claude`, `codex`, one of the config's `profiles`); chosen from the command by default. */
  profile: z.string().min(1).optional(),
  labels: z.record(LabelNameSchema, PlainTextSchema).optional(),
  group: GroupSchema.optional(),
  /** `no`, `on-failure`, `always`, or the policy with its limits. */
  restart: z.union([z.enum(RESTART_POLICIES), RestartPolicySchema]).optional(),
  /**
   * Run in a git worktree of its own, as `spawn --worktree` does: `true` (branch `warden/<key>` from
   * the repository's HEAD), a branch name, or `{ branch, repo, base }`; the repository is `cwd`'s.
   */
  worktree: z
    .union([
      z.boolean(),
      PlainTextSchema.min(1),
      z.strictObject({
        branch: PlainTextSchema.min(1).optional(),
        /** Relative to the file's directory; `~` is the home directory. `cwd` by default. */
        repo: z.string().min(1).optional(),
        base: PlainTextSchema.min(1).optional(),
      }),
    ])
    .optional(),
});
export type FleetEntry = z.infer<typeof FleetEntrySchema>;

/** The sessions file: `sessions: { api-fix: { command: [...], cwd: ~/src/api } }`. */
export const SessionsFileSchema = z.strictObject({
  /** Lets editors validate the file; ignored. */
  $schema: z.string().optional(),
  sessions: z.record(KeySchema, FleetEntrySchema),
});
export type SessionsFile = z.infer<typeof SessionsFileSchema>;

/** What to say of an unknown field of the sessions file, by where it is. */
export function unknownFleetKey(path: PropertyKey[], key: string): string {
  const quoted = JSON.stringify(key);
  if (path.length === 0) {
    return key === 'hooks'
      ? `hooks are not read from a sessions file: put them in the config file (see 'warden --help')`
      : `unknown field ${quoted}: the file holds sessions`;
  }
  return `unknown field ${quoted}: the fields are ${Object.keys(FleetEntrySchema.shape).join(', ')}`;
}
