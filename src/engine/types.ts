/** The engine's public option and event types. */
import type { InspectionEvent, Observer } from 'xstate';
import type { SessionMachine } from '../../machines/session.js';
import type { ProfilesInput } from '../activity/profiles.js';
import type { LogSettingsInput } from '../model/log-settings.js';
import type { ErrorData, OutboxHook, SessionInfo, SpawnMode, WorktreeDisposal } from '../model/schema.js';
import type { SessionStore } from '../store/store.js';
import type { TmuxSocket, TmuxTransport } from '../tmux/transport.js';
import type { Lookalike } from './lookalikes.js';
import type { Workspaces } from './workspaces.js';

/** The tmux session that holds the windows unless told otherwise. */
export const DEFAULT_GROUP = 'warden';
/** How long `end` gives a program after SIGHUP, and again after SIGTERM. */
export const DEFAULT_END_GRACE_MS = 3000;

/** How `createEngine` opens an engine. Every field is optional. */
export interface EngineOptions {
  /** The state file; `$WARDEN_STATE`, then the XDG state directory, by default. */
  stateFile?: string | undefined;
  /** A tmux socket name (`tmux -L`), or `{ path }` for `tmux -S`. The default server otherwise. */
  socket?: string | TmuxSocket | undefined;
  /** The tmux session that holds the windows; `warden` by default. */
  group?: string | undefined;
  /** An XState inspection observer: receives the events of every session actor. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
  /** How long a probe may take before its answer is "unknown". */
  probeTimeoutMs?: number | undefined;
  /** Timeout of every other tmux call. */
  tmuxTimeoutMs?: number | undefined;
  /** The tmux binary (`tmux` on PATH by default). */
  tmuxBin?: string | undefined;
  /**
   * How long `end` waits for a program after SIGHUP, and again after SIGTERM, before the next
   * signal (3000 ms); it reports only once the program is gone.
   */
  endGraceMs?: number | undefined;
  /** Reconcile once on open (default true). Work left by a dead process resumes at the first reconcile. */
  reconcileOnOpen?: boolean | undefined;
  /** @deprecated Ignored: a lock is taken over when its holder's process is gone, never by age. */
  lockStaleMs?: number | undefined;
  /**
   * A transition listener subscribed before the engine opens, so it also hears the transitions of
   * opening (a resumed spawn, the first reconcile). Same contract as `subscribe`.
   */
  onTransition?: TransitionListener | undefined;
  /**
   * Where the transitions it wants are delivered from the state file's outbox (invariant 14): each
   * is written with its transition, handed to `deliver` once durable, and removed once delivered;
   * what a gone process left undelivered is taken over. A `HookRunner`'s `outbox`.
   */
  outbox?: TransitionOutbox | undefined;
  /**
   * How tmux is reached: the local tmux binary through execa by default. Pass a wrapper of a
   * `LocalTransport` to observe or fault the calls (tests), or another transport.
   */
  transport?: TmuxTransport | undefined;
  /**
   * The statechart, for embedders that extend it: `sessionMachine` by default. A variant (an
   * added substate or region, other services through `.provide()`) is persisted, rehydrated,
   * reconciled and drawn like the original; its services are replaced by the engine's.
   */
  machine?: SessionMachine | undefined;
  /** The state store: the lowdb file at `stateFile` by default. */
  store?: SessionStore | undefined;
  /**
   * Activity profiles of the user's (the config file's `profiles`), beside the built-in ones; one
   * named like a built-in replaces it. Validated with `ProfilesSchema`.
   */
  profiles?: ProfilesInput | undefined;
  /**
   * Durable logs of sessions' output: the size cap, rotation and retention, and `directory`
   * (beside the state file by default: docs/logs.md). `{ enabled: false }` keeps none.
   */
  logs?: (LogSettingsInput & { directory?: string | undefined }) | undefined;
  /** Where sessions' worktrees go, relative to their repository's root (`.worktrees`). */
  worktreeDir?: string | undefined;
  /** The git binary (`git` on PATH by default). */
  gitBin?: string | undefined;
  /** How worktrees are made and removed: git by default. Pass a wrapper to observe or fault them. */
  workspaces?: Workspaces | undefined;
}

/**
 * What the engine asks of durable logs (src/logs/ does it; the composition root supplies it):
 * where a session's log is, the pipe a launch chains, the screen saved before a kill, and upkeep.
 * None of it may fail a launch or a kill.
 */
export interface SessionLogSink {
  /** The session's log; null when logs are off. */
  logFile(key: string, sessionId: string | null): string | null;
  /** argv of the process tmux pipes the pane's output to, readied for a launch; null for none. */
  pipeFor(key: string, sessionId: string): Promise<string[] | null>;
  /** Appends a pane's captured screen and scrollback to the session's log. */
  saveScreen(key: string, sessionId: string, captured: string): Promise<void>;
  /** Notes where running sessions' logs stand (what `--since` reads). */
  markGrowth(sessions: readonly { key: string; sessionId: string | null }[]): Promise<void>;
  /** Removes ended sessions' logs past retention; `live` are the session ids the state file holds. */
  applyRetention(live: ReadonlySet<string>): Promise<{ removed: string[] }>;
}

/** What `Engine.spawn` starts, and how. */
export interface SpawnOptions {
  /**
   * `normal` (default) refuses a key that is not `normal`; `resume` leaves a running session as it
   * is and relaunches an orphaned or exited one under the same session id; `fresh` ends whatever
   * runs and starts a new session id; `ensure` starts the key if it has no session and otherwise
   * does what `resume` does. `resume` and `ensure` refuse (conflict) options that differ from the
   * stored ones, since they would be dropped; the same ones are accepted.
   */
  mode?: SpawnMode | undefined;
  /** argv of the program; `{sessionId}` and `{key}` are substituted. Required unless resuming. */
  command?: string[] | undefined;
  /** Working directory of the program; it must exist. The caller's directory by default (recorded). */
  cwd?: string | null | undefined;
  /**
   * Extra environment of the program (it always gets `WARDEN_SESSION_ID` and `WARDEN_KEY`).
   * Stored in the state file with the session (mode 0600): for secrets use `passEnv`.
   */
  env?: Record<string, string> | undefined;
  /**
   * Names of variables the program gets from the environment of the process that launches it, read
   * at each launch (this one now; a later resume or restart reads its own). Only the names are
   * stored. Each must be set here when spawning.
   */
  passEnv?: string[] | undefined;
  /** Free-form labels stored with the session (a ticket id, an owner). */
  labels?: Record<string, string> | undefined;
  /** The tmux session to put the window in; the engine's group by default. */
  group?: string | undefined;
  /**
   * Template used to relaunch an orphaned or exited session; `{sessionId}` and `{key}` substituted.
   * An empty string clears the stored one.
   */
  resumeCommand?: string | null | undefined;
  /** When the session restarts by itself after it exits; `null` or policy `no` clears it. */
  restart?: RestartPolicyInput | null | undefined;
  /** The activity profile (`claude`, `codex`, a user profile …); chosen from the command by default. */
  profile?: string | null | undefined;
  /**
   * Run in a git worktree of its own: `<repo>/.worktrees/<key>` on a new branch (`warden/<key>`
   * unless `branch`) from `base` (the repository's HEAD), or the worktree already there for the
   * branch. `repo` is any directory in the repository (the caller's directory by default).
   * A fresh restart keeps the stored worktree unless given again.
   */
  worktree?: { branch?: string | null | undefined; repo?: string | undefined; base?: string | null | undefined } | null | undefined;
}

/** What `end` does with the session's worktree: see `WorktreeDisposal`. */
export interface EndOptions {
  /** `guarded` (default): removed only if it holds nothing of its own; `discard`: removed anyway; `keep`: never removed. */
  worktree?: WorktreeDisposal | undefined;
}

/** A restart policy as a caller writes it (the limits have defaults). */
export type RestartPolicyInput = import('zod').input<typeof import('../model/schema.js').RestartPolicySchema>;
/** How `Engine.send` types. */
export interface SendOptions {
  /** Press Enter after the text (default true). */
  enter?: boolean | undefined;
  /** First wait (this many ms at most) until the session is idle or waiting; refuse to send if it is not by then. */
  waitReadyMs?: number | undefined;
}

/** A state change of one session, reported only once it is durable in the state file. */
export interface TransitionEvent {
  key: string;
  sessionId: string | null;
  from: string;
  to: string;
  /**
   * The event that caused it: `SPAWN`, `END`, `WINDOW_GONE`, `xstate.done.actor.launch`, …;
   * `state-file` for a change another process made, seen when this engine read the file.
   */
  event: string;
  at: string;
  /** `here`: made by this engine; `elsewhere`: made by another process (a CLI call, say). */
  origin: 'here' | 'elsewhere';
  session: SessionInfo;
}

/** Hears transitions once durable; what it throws is ignored (the transition stands). */
export type TransitionListener = (event: TransitionEvent) => void;

/** What a transition queues in the outbox: the hooks to run for it, and where. */
export interface OutboxWork {
  hooks: OutboxHook[];
  /** Where they run; null: where the delivering process runs. */
  cwd: string | null;
}

/** One transition of the outbox, handed to its consumer to deliver. */
export interface OutboxDelivery extends OutboxWork {
  transition: TransitionEvent;
  /** Deliveries of it begun and cut short before this one, or taken over from a process that died. */
  attempts: number;
  /** Delivered: it leaves the outbox (resolves once that is durable). */
  done(): Promise<void>;
  /**
   * Not delivered, and this process stops trying: the next process takes it (resolves once
   * durable). `started`: some of its hooks ran (or began) and were cut short; one that never
   * started does not count as an attempt.
   */
  release(started: boolean): Promise<void>;
}

/** What consumes the state file's outbox (the hooks, invariant 14). */
export interface TransitionOutbox {
  /** What a transition queues: its hooks and where they run, or null when it has none (nothing is queued). */
  plan(transition: Pick<TransitionEvent, 'from' | 'to'>): OutboxWork | null;
  deliver(delivery: OutboxDelivery): void;
  /** A transition dropped undelivered: cut short too many times, or beyond the outbox's limit. */
  dropped?(transition: TransitionEvent, why: string): void;
}

/** What `gc` ended (state `normal`), or with `dryRun` would end (state `orphaned`). */
export interface GcResult {
  sessions: SessionInfo[];
  failed: { key: string; error: ErrorData }[];
  /** Session ids whose logs retention removed (none with `dryRun`). */
  logsRemoved: string[];
}

/** What one `reconcile()` saw and did. */
export interface ReconcileResult {
  /** What tmux answered: `unknown` means nothing was changed. */
  probe: 'ok' | 'no-server' | 'unknown';
  transitions: TransitionEvent[];
  /**
   * Running sessions whose pane tmux shows dead before its exit status is known (the process is
   * not reaped yet): they move to `active.exited` on a later reconcile, which `watch` makes soon.
   */
  exitsPending: number;
  error?: ErrorData | undefined;
  /** Untagged windows named like an orphaned session (tmux-resurrect's): pointed out, never touched. */
  lookalikes?: Lookalike[] | undefined;
}

/** A persisted record that could not be rehydrated; it is left in the file untouched. */
export interface SnapshotProblem {
  key: string;
  message: string;
}

/** How `watch` runs: see `Engine.watch`. */
export interface WatchOptions {
  /** Poll interval while no tmux control client is attached (500 ms). */
  intervalMs?: number;
  /** Poll interval while one is (10 s): a safety net under tmux's notifications. */
  safetyIntervalMs?: number;
  signal?: AbortSignal;
  /** Listen to tmux's control-mode notifications (default true). */
  control?: boolean;
  /** Hear pane output and decide activity (default true); false: lifecycle only, no output read. */
  activity?: boolean;
}

/** What a watch loop needs of the engine. */
export interface Watched {
  tmux: import('../tmux/commands.js').Tmux;
  group: string;
  /** `hints`: the output the watcher heard, more precise than tmux's whole-second `window_activity`. */
  reconcile(hints?: import('./activity.js').OutputHints, options?: { activity?: boolean }): Promise<ReconcileResult>;
  /** The running sessions' panes, and what their output and quiet mean (after the last reconcile). */
  paneWatches(): Map<string, import('./activity.js').PaneWatch>;
  /** Whether the last probe saw the group, and its tagged windows. */
  groupSeen(): { exists: boolean; taggedWindows: string[] };
  records(): Iterable<[string, import('../model/schema.js').SessionRecord]>;
  /** The state file, whose directory the watcher watches for other processes' writes. */
  stateFile?: string;
  /** Reads what other processes wrote (one `stat` when nothing changed); true when something did. */
  syncFile(): Promise<boolean>;
  isClosed(): boolean;
  /** Log upkeep after a reconcile: where running sessions' logs stand, and retention now and then. */
  keepLogs(): Promise<void>;
}

/** A running watch loop. */
export interface WatchLoop {
  run(options: WatchOptions): Promise<void>;
  close(): Promise<void>;
}

/** Makes the watch loop (supplied by the composition root: the watcher sits above the engine). */
export type WatchLoopFactory = (watched: Watched) => WatchLoop;
