/**
 * tmux-warden as a library: the engine, its errors, the session statechart, the zod schemas of
 * the state file and the lifecycle hooks. Everything a daemon needs is exported from here; the
 * modules behind it are not part of the API.
 *
 * ```ts
 * import { createEngine } from 'tmux-warden';
 * const engine = await createEngine({ stateFile: '/var/lib/me/warden.json' });
 * engine.subscribe((t) => console.log(`${t.key}: ${t.from} → ${t.to}`));
 * await engine.spawn('architect', { command: ['claude', '--session-id', '{sessionId}'] });
 * await engine.close();
 * ```
 *
 * @packageDocumentation
 */

// The engine.
export {
  createEngine,
  Engine,
  DEFAULT_GROUP,
  validateKey,
  type EngineOptions,
  type SpawnOptions,
  type TransitionEvent,
  type TransitionListener,
  type ReconcileResult,
  type GcResult,
  type SnapshotProblem,
  type SendOptions,
  type SendResult,
  type WaitResult,
  type ActivityExplanation,
  WAIT_UNTIL,
  type EndOptions,
  WorktreeKeptError,
  strayWorktrees,
  describeContents,
  type Workspaces,
  type WorktreeContents,
  type WorktreeEntry,
  type StrayWorktree,
} from './engine.js';
export { GitWorkspaces, DEFAULT_WORKTREE_DIR, type GitWorkspacesOptions } from './workspace/worktrees.js';

// Activity profiles: how a quiet agent's screen is read (docs/activity.md).
export {
  ProfileSchema,
  ProfilesSchema,
  ProfileBook,
  BUILTIN_PROFILES,
  readScreen,
  programsOf,
  type Profile,
  type ProfileInput,
  type Profiles,
  type ProfilesInput,
  type ScreenReading,
} from './activity/profiles.js';

// Errors: branch on `code`; `exitCode` is what the CLI exits with.
export {
  WardenError,
  InvalidInputError,
  ConflictError,
  NotFoundError,
  StateFileError,
  ERROR_CODES,
  toErrorData,
  type ErrorCode,
} from './model/errors.js';
export { TmuxError, TAG_OPTION, type TmuxErrorKind, type TmuxSocket, type Tmux } from './tmux.js';

export { SESSION_STATE_PATHS, stateString, topState, activityIn, type SessionStatePath } from '../machines/paths.js';
// The session statechart, free of I/O: `.provide()` other services to run it on another runtime.
export {
  sessionMachine,
  SESSION_MACHINE_ID,
  SESSION_MACHINE_VERSION,
  type SessionMachine,
  type SessionEvent,
  type SessionInput,
  type LaunchInput,
  type LaunchOutput,
  type CleanupInput,
  type WindowSeen,
} from '../machines/session.js';

// The state file and the session object: zod schemas, and the types derived from them.
export {
  StateDocumentSchema,
  SessionRecordSchema,
  PersistedSnapshotSchema,
  SessionContextSchema,
  LaunchSpecSchema,
  LaunchKindSchema,
  HistoryEntrySchema,
  RecordOwnerSchema,
  ErrorDataSchema,
  SessionInfoSchema,
  ActivitySchema,
  ActivitySourceSchema,
  ActivityContextSchema,
  ACTIVITIES,
  ACTIVITY_SOURCES,
  type Activity,
  type ActivitySource,
  type ActivityContext,
  StateValueSchema,
  KeySchema,
  GroupSchema,
  EnvNameSchema,
  LabelNameSchema,
  SpawnModeSchema,
  RestartPolicySchema,
  RESTART_POLICIES,
  WorkspaceSchema,
  WorktreeRequestSchema,
  WorktreeRemovalSchema,
  WorktreeDisposalSchema,
  WORKTREE_DISPOSALS,
  KEY_PATTERN,
  SCHEMA_VERSION,
  HISTORY_LIMIT,
  SESSION_STATES,
  SPAWN_MODES,
  type StateDocument,
  type SessionRecord,
  type PersistedSnapshot,
  type SessionContext,
  type LaunchSpec,
  type LaunchKind,
  type HistoryEntry,
  type RecordOwner,
  type ErrorData,
  type SessionInfo,
  type SessionState,
  type SpawnMode,
  type RestartPolicy,
  type Workspace,
  type WorktreeRequest,
  type WorktreeRemoval,
  type WorktreeDisposal,
} from './model/schema.js';
export {
  defaultStatePath,
  parseStateDocument,
  migrateDocument,
  type Migration,
  type StateStore,
} from './store.js';

// Lifecycle hooks: shell commands run on transitions, from the user's config file.
export {
  HookRunner,
  hookFires,
  hookEnvironment,
  HOOK_STATES,
  type HooksConfig,
  type HookCommand,
  type HookState,
  type HookResult,
  type HookRunnerOptions,
} from './hooks.js';

// The user's config file (`$XDG_CONFIG_HOME/tmux-warden/config.yaml`): hooks, profiles, defaults.
export {
  ConfigSchema,
  ConfigSchema as HooksConfigSchema,
  HookCommandSchema,
  DefaultsSchema,
  CONFIG_FILE_NAME,
  readConfigFile,
  readConfigFile as loadHooksConfig,
  parseConfig,
  parseConfig as parseHooksConfig,
  locateConfig,
  userConfigPath,
  defaultConfigPath,
  type Config,
  type ConfigInput,
  type ConfigInput as HooksConfigInput,
  type ConfigLocation,
} from './config/index.js';

// The fleet: `up` and `down` from a sessions file, as a pure plan applied through the engine.
export {
  SessionsFileSchema,
  FleetEntrySchema,
  FLEET_LABEL,
  locateSessionsFile,
  readSessionsFile,
  planUp,
  planDown,
  specChanges,
  applyPlan,
  currentSessions,
  type SessionsFile,
  type FleetEntry,
  type Fleet,
  type DesiredSession,
  type FleetStep,
  type FleetAction,
  type StepResult,
} from './fleet/index.js';
