/**
 * The zod schemas that are the one source of truth for the state file, the machine's context
 * and the CLI's JSON. Types are derived from them with `z.infer`.
 */
import * as z from 'zod';

/** A key names a session slot. No `:` `.` `=` or whitespace: those are tmux target syntax. */
export const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const KeySchema = z
  .string()
  .regex(KEY_PATTERN, 'a key is 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit');

/** tmux session names may not contain `:` or `.`; we also refuse whitespace and control characters. */
export const GroupSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'a group is 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit');

/** Environment variable names as POSIX shells accept them. */
export const EnvNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name is letters, digits and _, not starting with a digit');

export const LabelNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,63}$/, 'a label name is 1-64 characters of A-Z a-z 0-9 _ . / -');

/** The most characters one value (an argument, an env value, a label) may have. */
export const PLAIN_TEXT_MAX = 4096;

/**
 * Values that end up in argv or tmux options: no NUL, no newline or other control characters, and
 * short enough that a whole launch fits in the one tmux command that carries it.
 */
export const PlainTextSchema = z
  .string()
  .max(PLAIN_TEXT_MAX, {
    error: (issue) =>
      `${typeof issue.input === 'string' ? `${issue.input.length} characters, ` : ''}over the ${PLAIN_TEXT_MAX} a value may have: ` +
      `keep long text in a file the command reads (-- sh -c 'claude "$(cat prompt.md)"'), or type it in after the start with 'warden send KEY' (up to ${SEND_TEXT_MAX_BYTES} bytes)`,
  })
  .refine((s) => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(s), 'control characters are not allowed');

/**
 * The most text one `send` may type: tmux refuses a command over 16 KiB ("command too long"),
 * and the text travels inside one, with the buffer and paste commands around it.
 */
export const SEND_TEXT_MAX_BYTES = 15_000;

/** Errors kept in context are plain data, never `Error` objects (invariant 6). */
export const ErrorDataSchema = z.object({
  code: z.string(),
  message: z.string(),
  stderr: z.string(),
});
export type ErrorData = z.infer<typeof ErrorDataSchema>;

/**
 * How `spawn` treats a key that already has a session: refuse, resume it, replace it, or make
 * sure it runs (`ensure`: start it if absent, resume it if exited or orphaned, leave it running).
 */
export const SPAWN_MODES = ['normal', 'resume', 'fresh', 'ensure'] as const;
export const SpawnModeSchema = z.enum(SPAWN_MODES);
export type SpawnMode = z.infer<typeof SpawnModeSchema>;

/** When an exited session is restarted by itself: never, after a non-zero exit, or after any exit. */
export const RESTART_POLICIES = ['no', 'on-failure', 'always'] as const;

/**
 * The restart policy of a session. The n-th restart in a row waits
 * `min(backoffMs * 2^(n-1), maxBackoffMs)` after the exit; after `maxRestarts` restarts without
 * a spawn by a person the session gives up (`active.exited.gaveUp`).
 */
export const RestartPolicySchema = z.strictObject({
  policy: z.enum(RESTART_POLICIES),
  maxRestarts: z.number().int().nonnegative().max(1_000_000).default(5),
  backoffMs: z.number().int().nonnegative().max(86_400_000).default(1000),
  maxBackoffMs: z.number().int().nonnegative().max(86_400_000).default(300_000),
});
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;
/**
 * `--worktree [BRANCH] [--repo DIR] [--base REF]` as asked: the repository (its main worktree's
 * root), and the branch and base when given (null: `warden/<key>` from the repository's HEAD).
 */
export const WorktreeRequestSchema = z.object({
  repo: z.string(),
  branch: PlainTextSchema.nullable(),
  base: PlainTextSchema.nullable(),
});
export type WorktreeRequest = z.infer<typeof WorktreeRequestSchema>;

/** How `end` treats the session's worktree: remove it only if it holds nothing, remove it anyway, never remove it. */
export const WORKTREE_DISPOSALS = ['guarded', 'discard', 'keep'] as const;
export const WorktreeDisposalSchema = z.enum(WORKTREE_DISPOSALS);
export type WorktreeDisposal = z.infer<typeof WorktreeDisposalSchema>;

/** What the cleanup did with a worktree: removed, or kept (and what is in it that nobody else has). */
export const WorktreeRemovalSchema = z.object({
  removed: z.boolean(),
  /** The branch was deleted with it (only a branch warden made, whose commits are all elsewhere). */
  branchDeleted: z.boolean(),
  /** Why it was kept, naming what is in it; null when removed. */
  kept: z.string().nullable(),
});
export type WorktreeRemoval = z.infer<typeof WorktreeRemovalSchema>;

/**
 * A session's git worktree, in context. It is planned (every field but `ready` and `removal`
 * known) before the session's record is first written, so a crash at any step finds its intent.
 */
export const WorkspaceSchema = z.object({
  /** The root of the repository's main worktree. */
  repo: z.string(),
  path: z.string(),
  branch: z.string(),
  /** The ref the branch was made from (or is compared with): its commits are "somebody else's". */
  base: z.string(),
  /** warden makes (made) this worktree; false: it was there and is only used. */
  created: z.boolean(),
  /** warden makes (made) the branch too; only then may it delete it. */
  newBranch: z.boolean(),
  /** The workspace step is done: the worktree exists (persisted before the window step). */
  ready: z.boolean(),
  /** How `end` disposes of it (set by END; `guarded` when not said). */
  disposal: WorktreeDisposalSchema.optional(),
  /** The cleanup's workspace step is done: what it did (persisted before the record goes). */
  removal: WorktreeRemovalSchema.nullable().optional(),
});
export type Workspace = z.infer<typeof WorkspaceSchema>;

/** What the user asked to run; kept with the session so it can be resumed or restarted. */
export const LaunchSpecSchema = z.object({
  command: z.array(PlainTextSchema).min(1, 'a command is required (after --)'),
  cwd: z.string().nullable(),
  env: z.record(EnvNameSchema, PlainTextSchema),
  /**
   * Names of variables passed from the environment of whichever process launches the program, at
   * each launch; only the names are stored (absent in records written before `--pass-env`).
   */
  passEnv: z.array(EnvNameSchema).optional(),
  labels: z.record(LabelNameSchema, PlainTextSchema),
  group: GroupSchema,
  /** A template; `{sessionId}` and `{key}` are substituted. Used to relaunch an orphaned session. */
  resumeCommand: PlainTextSchema.nullable(),
  /** Absent: never restarted by itself (records written before restart policies have none). */
  restart: RestartPolicySchema.optional(),
  /** The activity profile asked for with `--profile`; null: chosen from the command. */
  profile: z.string().nullish(),
  /** Run in a git worktree of its own (absent in records written before worktrees existed). */
  worktree: WorktreeRequestSchema.nullable().optional(),
});
export type LaunchSpec = z.infer<typeof LaunchSpecSchema>;

/**
 * How the `spawning` state brings the window up:
 * - `create`: a new tagged window running `command`;
 * - `respawn`: `respawn-pane` in the exited pane, same session id;
 * - `relaunch`: a new tagged window running the resume command, same session id.
 */
export const LaunchKindSchema = z.enum(['create', 'respawn', 'relaunch']);
export type LaunchKind = z.infer<typeof LaunchKindSchema>;

/** What a running agent is doing (DESIGN: Activity). */
export const ACTIVITIES = ['busy', 'idle', 'waiting'] as const;
export const ActivitySchema = z.enum(ACTIVITIES);
export type Activity = z.infer<typeof ActivitySchema>;

/** Which source decided the activity, highest confidence first. */
export const ACTIVITY_SOURCES = ['signal', 'pattern', 'silence'] as const;
export const ActivitySourceSchema = z.enum(ACTIVITY_SOURCES);
export type ActivitySource = z.infer<typeof ActivitySourceSchema>;

/**
 * How the current activity was decided; the activity itself is the machine's substate of
 * `active.running`. Written only when the activity (or its source) changes, never per output.
 */
export const ActivityContextSchema = z.object({
  since: z.string(),
  source: ActivitySourceSchema,
  /**
   * The last output known when it was decided (ms since the epoch; tmux's `window_activity` or
   * a control client's `%output`): output after it says the agent works again.
   */
  outputAt: z.number().nullable(),
  /** The line of the screen (or the signal) that decided, for `status --explain`. */
  matched: z.string().nullable(),
});
export type ActivityContext = z.infer<typeof ActivityContextSchema>;
/**
 * Which tmux server holds a session's window (invariant 9): its pid, the start of that process
 * (so a reused pid is not mistaken for it) and the socket file it was reached through. While that
 * process lives, "no server" on that socket means the socket file was removed, not that the
 * windows are gone.
 */
export const ServerIdentitySchema = z.object({
  pid: z.number().int(),
  bootId: z.string().nullable(),
  startTicks: z.number().int().nullable(),
  socket: z.string(),
});
export type ServerIdentity = z.infer<typeof ServerIdentitySchema>;

/** The context of a session actor: everything persisted about one session besides its state. */
export const SessionContextSchema = z.object({
  key: KeySchema,
  sessionId: z.string().nullable(),
  spec: LaunchSpecSchema.nullable(),
  launch: LaunchKindSchema,
  windowId: z.string().nullable(),
  paneId: z.string().nullable(),
  pid: z.number().int().nullable(),
  exitStatus: z.number().int().nullable(),
  /** The last lines the program printed, kept when its pane exited (absent in older files). */
  lastOutput: z.string().nullable().optional(),
  /** The tmux server holding the window (absent in older files). */
  server: ServerIdentitySchema.nullable().optional(),
  createdAt: z.string().nullable(),
  error: ErrorDataSchema.nullable(),
  /** A fresh spawn waiting for the old session's cleanup (`ending → spawning`). */
  next: z
    .object({ sessionId: z.string(), spec: LaunchSpecSchema, at: z.string(), workspace: WorkspaceSchema.nullable().optional() })
    .nullable(),
  /** Restarts made by the restart policy since a person last spawned the session. */
  restarts: z.number().int().nonnegative().optional(),
  /** When the restart policy restarts the exited session (a deadline in context, invariant 7). */
  restartAt: z.string().nullable().optional(),
  /** How the activity of a running session was decided; null before it ran (or in old records). */
  activity: ActivityContextSchema.nullish(),
  /** The session's git worktree (absent in records written before worktrees existed). */
  workspace: WorkspaceSchema.nullable().optional(),
});
export type SessionContext = z.infer<typeof SessionContextSchema>;

/** The top-level states of a session, as the session object's `state` reports them. */
export const SESSION_STATES = ['normal', 'spawning', 'active', 'orphaned', 'ending'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** A state value of the session machine: `'orphaned'` or `{ active: 'running' }`. */
export const StateValueSchema: z.ZodType<string | { [k: string]: unknown }> = z.union([
  z.string(),
  z.record(z.string(), z.unknown()),
]);

/** XState's persisted snapshot; we check what we rely on and keep the rest as XState wrote it. */
export const PersistedSnapshotSchema = z.looseObject({
  status: z.enum(['active', 'done', 'error', 'stopped']),
  value: StateValueSchema,
  context: SessionContextSchema,
});
export type PersistedSnapshot = z.infer<typeof PersistedSnapshotSchema>;

/**
 * The process carrying out a spawn or cleanup, so another process does not start it twice: its
 * pid, host, and (where /proc says) boot id and start ticks, which tell it from a later process
 * given the same pid. It owns the work for as long as it lives, however long that takes.
 */
export const RecordOwnerSchema = z.object({
  pid: z.number().int(),
  host: z.string(),
  bootId: z.string().nullable().optional(),
  startTicks: z.number().int().nullable().optional(),
});
export type RecordOwner = z.infer<typeof RecordOwnerSchema>;

/** One key's entry in the state file: its stamp (`rev`, `updatedAt`), the machine version and the snapshot. */
export const SessionRecordSchema = z.object({
  rev: z.number().int().positive(),
  updatedAt: z.string(),
  machineVersion: z.string(),
  /** Set while the session is `spawning` or `ending`; null otherwise. */
  owner: RecordOwnerSchema.nullable().optional(),
  snapshot: PersistedSnapshotSchema,
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

/** An ended session, kept in the bounded `history` of the state file. */
export const HistoryEntrySchema = z.object({
  key: KeySchema,
  sessionId: z.string(),
  command: z.array(z.string()),
  cwd: z.string().nullable(),
  group: z.string(),
  labels: z.record(z.string(), z.string()),
  createdAt: z.string().nullable(),
  endedAt: z.string(),
  /** `ended` by END, `replaced` by a fresh spawn, `spawn-failed` when the window never came up. */
  reason: z.enum(['ended', 'replaced', 'spawn-failed']),
  exitStatus: z.number().int().nullable(),
  error: ErrorDataSchema.nullable(),
  /** The session's durable log (absent in entries written before logs were kept). */
  logFile: z.string().nullable().optional(),
  /** The session's worktree and what its end did with it (absent: it had none). */
  worktree: z
    .object({ repo: z.string(), path: z.string(), branch: z.string(), base: z.string(), created: z.boolean(), removal: WorktreeRemovalSchema.nullable() })
    .nullable()
    .optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

/** The version of the state file format this tmux-warden writes (older ones are migrated on read). */
export const SCHEMA_VERSION = 1;
/** How many history entries the state file keeps (the oldest go first). */
export const HISTORY_LIMIT = 1000;

/** The JSON session object of the CLI and the library (DESIGN: "JSON session object"). */
export const SessionInfoSchema = z.object({
  key: z.string(),
  state: z.enum(SESSION_STATES),
  sessionId: z.string().nullable(),
  group: z.string().nullable(),
  windowId: z.string().nullable(),
  paneId: z.string().nullable(),
  pid: z.number().nullable(),
  command: z.array(z.string()),
  cwd: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
  /** Null unless the pane exited: a non-null exit status means `active.exited`. */
  exitStatus: z.number().nullable(),
  /** The argv that was launched last: the command, or the resume command after a resume. */
  lastCommand: z.array(z.string()).nullable().default(null),
  /** Restarts made by the restart policy since a person last spawned the session. */
  restarts: z.number().default(0),
  restartPolicy: RestartPolicySchema.nullable().default(null),
  /** When the restart policy restarts the exited session next; null when none is due. */
  restartAt: z.string().nullable().default(null),
  /** What a running agent is doing; null unless the session is running. */
  activity: ActivitySchema.nullable().default(null),
  /** When the activity began (ISO time); null with it. */
  activitySince: z.string().nullable().default(null),
  /** Which source decided it: an agent's own `signal`, a screen `pattern`, or `silence`/output. */
  activitySource: ActivitySourceSchema.nullable().default(null),
  /** The session's durable log (docs/logs.md); null without a session id or with logs off. */
  logFile: z.string().nullable().default(null),
  /** The session's git worktree; `created`: warden made it (and may remove it). Null without one. */
  worktree: z.object({ path: z.string(), branch: z.string(), base: z.string(), created: z.boolean() }).nullable().default(null),
  /** The last lines the program printed before its pane exited; null while it runs. */
  lastOutput: z.string().nullable().default(null),
  /** The pid of the tmux server holding the window, as last recorded. */
  serverPid: z.number().nullable().default(null),
});
export type SessionInfo = z.infer<typeof SessionInfoSchema>;

/**
 * A transition, as `watch --json` prints it (one per line) and `engine.subscribe` hears it: reported
 * only once durable in the state file.
 */
export const TransitionEventSchema = z.object({
  key: z.string(),
  sessionId: z.string().nullable(),
  /** Dotted state values: `active.running`, `orphaned`, … */
  from: z.string(),
  to: z.string(),
  /** What caused it: `SPAWN`, `END`, `WINDOW_GONE`, …; `state-file` for a change another process made. */
  event: z.string(),
  at: z.string(),
  /** `here`: made by this engine; `elsewhere`: made by another process and read from the state file. */
  origin: z.enum(['here', 'elsewhere']),
  /** The session object after the transition. */
  session: SessionInfoSchema,
});

/** One hook as queued with its transition: the config entry, its command and its timeout. */
export const OutboxHookSchema = z.object({
  hook: z.string(),
  command: z.string(),
  timeoutMs: z.number().int().positive(),
});
export type OutboxHook = z.infer<typeof OutboxHookSchema>;

/**
 * A transition whose hooks have not all run (invariant 14): written into the state file in the
 * same commit as the transition, delivered by its owner, removed once delivered. An entry whose
 * owner is gone (or null: released by a process that stopped delivering it) is claimed by the next
 * process that delivers hooks, one taker per entry.
 */
export const OutboxEntrySchema = z.object({
  id: z.string(),
  /**
   * The hooks to run, as the user's config named them when the transition was made: whichever
   * process delivers the entry runs exactly these (the state file is the user's own, like the
   * commands of its sessions).
   */
  hooks: z.array(OutboxHookSchema),
  /** Where they run (the config file's directory); null: where the delivering process runs. */
  cwd: z.string().nullable(),
  /** The process delivering it; null once released for any process to take. */
  owner: RecordOwnerSchema.nullable(),
  /** Deliveries begun and cut short so far, or taken over from a process that died. */
  attempts: z.number().int().nonnegative(),
  transition: TransitionEventSchema.omit({ origin: true }),
});
export type OutboxEntry = z.infer<typeof OutboxEntrySchema>;

/** How many undelivered transitions the outbox keeps (the oldest are dropped, and reported, first). */
export const OUTBOX_LIMIT = 1000;

/** The whole state file. */
export const StateDocumentSchema = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  sessions: z.record(KeySchema, SessionRecordSchema),
  history: z.array(HistoryEntrySchema),
  /** Transitions whose hooks have not all run; absent when there are none. */
  outbox: z.array(OutboxEntrySchema).optional(),
});
export type StateDocument = z.infer<typeof StateDocumentSchema>;

export function emptyDocument(): StateDocument {
  return { schemaVersion: SCHEMA_VERSION, sessions: {}, history: [] };
}
