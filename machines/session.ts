/**
 * The session statechart: one actor per key. It reads like the table in DESIGN.md and does no
 * I/O: the two services (`launchWindow`: workspace, then window; `cleanupWindow`: window, then
 * workspace) are placeholders here, and the engine
 * supplies real ones with `sessionMachine.provide({ actors })`. Every actor, guard and action is
 * registered by name so snapshots can be persisted and the machine drawn.
 */
import { assign, fromPromise, setup } from 'xstate';
import type {
  Activity,
  ActivityContext,
  ErrorData,
  LaunchKind,
  LaunchSpec,
  RestartPolicy,
  ServerIdentity,
  SessionContext,
  SpawnMode,
  Workspace,
  WorktreeDisposal,
  WorktreeRemoval,
} from '../src/model/schema.js';

/** The machine's id, as diagrams and the inspector show it. */
export const SESSION_MACHINE_ID = 'warden-session';
/** Bump when a change makes old persisted snapshots unreadable; the store keeps it per record. */
export const SESSION_MACHINE_VERSION = '1';

/** What the `spawning` state asks the outside world to do. */
export interface LaunchInput {
  key: string;
  sessionId: string;
  spec: LaunchSpec;
  launch: LaunchKind;
  /** The exited pane to respawn in place (`launch: 'respawn'`). */
  paneId: string | null;
  /** The worktree to make (or find) before the window, and run the session in. */
  workspace: Workspace | null;
}

/** What a launch (or an adoption of an already-tagged window) reports back. */
export interface LaunchOutput {
  windowId: string;
  paneId: string;
  pid: number | null;
  dead: boolean;
  exitStatus: number | null;
  /** When the window was seen up (ISO): the running session's activity starts then. */
  at?: string | undefined;
  /** The tmux server holding the window, when known. */
  server?: ServerIdentity | null | undefined;
}

/** What the `ending` state asks the outside world to clean up: every window tagged with `sessionId`. */
export interface CleanupInput {
  sessionId: string;
  group: string;
  key: string;
  /** Removed after the window (reverse order of creation), as `workspace.disposal` says. */
  workspace: Workspace | null;
  /** The worktree the fresh spawn waiting in `next` runs in: handed over, not removed. */
  nextWorkspace: Workspace | null;
}

/** The session's pane (tagged), as a probe saw it: where it is now and its program. */
export interface WindowSeen {
  windowId: string;
  paneId: string;
  pid: number | null;
  dead: boolean;
  exitStatus: number | null;
  /** The tmux server holding it, when known. */
  server?: ServerIdentity | null | undefined;
}

/** Every event a session actor accepts. */
export type SessionEvent =
  /** `sessionId` is minted by the caller so the machine stays pure. */
  | { type: 'SPAWN'; mode: SpawnMode; sessionId: string; spec: LaunchSpec; at: string; workspace?: Workspace | null }
  /** `worktree`: how the cleanup disposes of the session's worktree (`guarded` when absent). */
  | { type: 'END'; worktree?: WorktreeDisposal }
  /** The launch's workspace step is done: the worktree exists (sent by the launch service). */
  | { type: 'WORKSPACE_READY' }
  /** The cleanup's window step is done: no window carries the id (sent by the cleanup service). */
  | { type: 'WINDOW_CLOSED' }
  /** The cleanup's workspace step is done (sent by the cleanup service). */
  | { type: 'WORKSPACE_RELEASED'; removal: WorktreeRemoval }
  /** Probe: no window carries this session's tag. */
  | { type: 'WINDOW_GONE' }
  /** Probe: the pane is dead with this exit status (needs `remain-on-exit on`), and what it last printed. */
  | { type: 'PANE_EXITED'; exitStatus: number; lastOutput?: string | null | undefined }
  /**
   * Probe: the session's pane is there (again), or somewhere else than recorded (moved, swapped,
   * respawned by hand, on a restarted server): the record follows it.
   */
  | { type: 'WINDOW_FOUND'; window: WindowSeen; at?: string | undefined }
  /** Activity: output after the activity was decided (`outputAt`: when, in ms since the epoch). */
  | { type: 'OUTPUT'; at: string; outputAt: number }
  /**
   * Activity: no output for the profile's quiet period; the bottom of the screen matched a
   * pattern (`source: 'pattern'`, the line in `matched`) or nothing did (`silence`).
   */
  | {
      type: 'QUIET';
      activity: 'idle' | 'waiting';
      source: 'pattern' | 'silence';
      at: string;
      outputAt: number | null;
      matched: string | null;
    }
  /** Activity: the agent's own hook says what it does (`warden signal`): beats patterns until output. */
  | { type: 'SIGNAL'; activity: Activity; at: string; outputAt: number | null }
  /** Try a failed cleanup again (the engine sends it on reconcile). */
  | { type: 'RETRY' }
  /** The restart policy's deadline may have passed: restarts the exited session if `at` is past it. */
  | { type: 'RESTART'; at: string };

/** The input of a session actor: its key. */
export interface SessionInput {
  key: string;
}

/** Whether the session's restart policy wants a restart after the exit in `context`. */
function restartApplies(context: SessionContext): boolean {
  const policy = context.spec?.restart?.policy ?? 'no';
  if (policy === 'always') return true;
  return policy === 'on-failure' && context.exitStatus !== 0;
}

/** How long the `n`-th restart in a row waits after the exit: exponential, capped. */
export function restartDelayMs(policy: RestartPolicy, n: number): number {
  return Math.min(policy.backoffMs * 2 ** Math.max(0, n - 1), policy.maxBackoffMs);
}

function notProvided(name: string): never {
  throw new Error(`the ${name} service is not provided: use sessionMachine.provide({ actors: { ${name} } })`);
}

/** Plain error data from whatever a service rejected with (invariant 6: no Error objects in context). */
function errorData(error: unknown): ErrorData {
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; message?: unknown; stderr?: unknown };
    return {
      code: typeof e.code === 'string' ? e.code : 'TMUX_FAILED',
      message: typeof e.message === 'string' ? e.message : String(error),
      stderr: typeof e.stderr === 'string' ? e.stderr : '',
    };
  }
  return { code: 'TMUX_FAILED', message: String(error), stderr: '' };
}

/** When the event that brought the session to `active.running` saw it running, when it says. */
function startedAt(event: { type: string; output?: unknown; at?: unknown }): string | null {
  if (typeof event.at === 'string') return event.at;
  const output = event.output as { at?: unknown } | undefined;
  return typeof output?.at === 'string' ? output.at : null;
}

/** The activity context an activity event decides. */
function activityOf(event: SessionEvent): ActivityContext | undefined {
  switch (event.type) {
    case 'OUTPUT':
      return { since: event.at, source: 'silence', outputAt: event.outputAt, matched: null };
    case 'QUIET':
      return { since: event.at, source: event.source, outputAt: event.outputAt, matched: event.matched };
    case 'SIGNAL':
      return { since: event.at, source: 'signal', outputAt: event.outputAt, matched: `warden signal ${event.activity}` };
    default:
      return undefined;
  }
}

/**
 * The session statechart. Its services are placeholders that throw: run it with
 * `sessionMachine.provide({ actors: { launchWindow, cleanupWindow } })`.
 */
export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
  },
  actors: {
    launchWindow: fromPromise<LaunchOutput, LaunchInput>(async () => notProvided('launchWindow')),
    cleanupWindow: fromPromise<void, CleanupInput>(async () => notProvided('cleanupWindow')),
  },
  guards: {
    modeStarts: ({ event }) => event.type === 'SPAWN' && event.mode !== 'resume',
    modeKeeps: ({ event }) => event.type === 'SPAWN' && (event.mode === 'resume' || event.mode === 'ensure'),
    modeFresh: ({ event }) => event.type === 'SPAWN' && event.mode === 'fresh',
    hasNextSpawn: ({ context }) => context.next !== null,
    launchedPaneDead: (_, launched: LaunchOutput) => launched.dead,
    foundPaneDead: ({ event }) => event.type === 'WINDOW_FOUND' && event.window.dead,
    restartWanted: ({ context }) => restartApplies(context) && (context.restarts ?? 0) < context.spec!.restart!.maxRestarts,
    restartLimitReached: ({ context }) => restartApplies(context) && (context.restarts ?? 0) >= context.spec!.restart!.maxRestarts,
    restartIsDue: ({ context, event }) => event.type === 'RESTART' && context.restartAt != null && event.at >= context.restartAt,
    /** The current activity came from a signal: quiet and patterns do not overrule it. */
    signalled: ({ context }) => context.activity?.source === 'signal',
    quietWaiting: ({ context, event }) =>
      event.type === 'QUIET' && event.activity === 'waiting' && context.activity?.source !== 'signal',
    quietIdle: ({ context, event }) => event.type === 'QUIET' && event.activity === 'idle' && context.activity?.source !== 'signal',
    signalBusy: ({ event }) => event.type === 'SIGNAL' && event.activity === 'busy',
    signalIdle: ({ event }) => event.type === 'SIGNAL' && event.activity === 'idle',
  },
  actions: {
    startSession: assign(({ event }) => {
      if (event.type !== 'SPAWN') return {};
      return {
        sessionId: event.sessionId,
        spec: event.spec,
        launch: 'create' as const,
        windowId: null,
        paneId: null,
        pid: null,
        exitStatus: null,
        createdAt: event.at,
        error: null,
        next: null,
        restarts: 0,
        restartAt: null,
        workspace: event.workspace ?? null,
      };
    }),
    startNextSession: assign(({ context }) => {
      const next = context.next!;
      return {
        sessionId: next.sessionId,
        spec: next.spec,
        launch: 'create' as const,
        windowId: null,
        paneId: null,
        pid: null,
        exitStatus: null,
        createdAt: next.at,
        error: null,
        next: null,
        restarts: 0,
        restartAt: null,
        workspace: next.workspace ?? null,
      };
    }),
    queueFreshSpawn: assign(({ event }) => {
      if (event.type !== 'SPAWN') return {};
      return { next: { sessionId: event.sessionId, spec: event.spec, at: event.at, workspace: event.workspace ?? null }, error: null };
    }),
    // A resume keeps the session id; the caller may have given a new resume command.
    prepareRespawn: assign(({ event, context }) => ({
      launch: 'respawn' as const,
      spec: event.type === 'SPAWN' ? event.spec : context.spec,
      error: null,
      restarts: 0,
      restartAt: null,
    })),
    prepareRelaunch: assign(({ event, context }) => ({
      launch: 'relaunch' as const,
      spec: event.type === 'SPAWN' ? event.spec : context.spec,
      exitStatus: null,
      error: null,
      restarts: 0,
      restartAt: null,
    })),
    // The deadline lives in context (invariant 7): whoever reconciles after it restarts the session.
    scheduleRestart: assign(({ context }) => ({
      restartAt: new Date(Date.now() + restartDelayMs(context.spec!.restart!, (context.restarts ?? 0) + 1)).toISOString(),
    })),
    startRestart: assign(({ context }) => ({
      launch: 'respawn' as const,
      restarts: (context.restarts ?? 0) + 1,
      restartAt: null,
      error: null,
    })),
    recordWindow: assign((_, w: LaunchOutput) => ({
      windowId: w.windowId,
      paneId: w.paneId,
      pid: w.pid,
      exitStatus: w.dead ? w.exitStatus ?? 0 : null,
      lastOutput: null,
      ...(w.server ? { server: w.server } : {}),
      error: null,
    })),
    adoptWindow: assign(({ event, context }) => {
      if (event.type !== 'WINDOW_FOUND') return {};
      const w = event.window;
      const sameProgram = w.dead && w.pid === context.pid;
      return {
        windowId: w.windowId,
        paneId: w.paneId,
        pid: w.pid,
        exitStatus: w.dead ? w.exitStatus ?? 0 : null,
        lastOutput: sameProgram ? context.lastOutput ?? null : null,
        ...(w.server ? { server: w.server } : {}),
      };
    }),
    recordWorkspaceReady: assign(({ context }) => (context.workspace ? { workspace: { ...context.workspace, ready: true } } : {})),
    recordDisposal: assign(({ event, context }) =>
      event.type === 'END' && event.worktree && context.workspace ? { workspace: { ...context.workspace, disposal: event.worktree } } : {},
    ),
    recordRemoval: assign(({ event, context }) =>
      event.type === 'WORKSPACE_RELEASED' && context.workspace ? { workspace: { ...context.workspace, removal: event.removal } } : {},
    ),
    recordExit: assign(({ event }) =>
      event.type === 'PANE_EXITED' ? { exitStatus: event.exitStatus, lastOutput: event.lastOutput ?? null } : {},
    ),
    forgetWindow: assign({ windowId: null, paneId: null, pid: null }),
    /** A session that starts (or is found) running is busy until it goes quiet: `silence` decides. */
    startActivity: assign(({ event, context }) => ({
      activity: { since: startedAt(event) ?? context.createdAt ?? '', source: 'silence' as const, outputAt: null, matched: null },
    })),
    decideActivity: assign(({ event }) => ({ activity: activityOf(event) })),
    recordError: assign((_, failure: { error: unknown }) => ({ error: errorData(failure.error) })),
    clearError: assign({ error: null }),
    /** The caller attaches to the running session (the CLI prints how); the session is untouched. */
    attach: () => undefined,
  },
}).createMachine({
  id: SESSION_MACHINE_ID,
  version: SESSION_MACHINE_VERSION,
  context: ({ input }) => ({
    key: input.key,
    sessionId: null,
    spec: null,
    launch: 'create',
    windowId: null,
    paneId: null,
    pid: null,
    exitStatus: null,
    createdAt: null,
    error: null,
    next: null,
    restarts: 0,
    restartAt: null,
    activity: null,
    workspace: null,
  }),
  initial: 'normal',
  states: {
    normal: {
      on: {
        // SPAWN resume on normal is refused: nothing to resume. Ensure starts it.
        SPAWN: { guard: 'modeStarts', target: 'spawning', actions: 'startSession' },
      },
    },
    spawning: {
      invoke: {
        id: 'launch',
        src: 'launchWindow',
        input: ({ context }) => ({
          key: context.key,
          sessionId: context.sessionId!,
          spec: context.spec!,
          launch: context.launch,
          paneId: context.paneId,
          workspace: context.workspace ?? null,
        }),
        onDone: [
          {
            guard: { type: 'launchedPaneDead', params: ({ event }) => event.output },
            target: 'active.exited',
            actions: { type: 'recordWindow', params: ({ event }) => event.output },
          },
          { target: 'active.running', actions: { type: 'recordWindow', params: ({ event }) => event.output } },
        ],
        // The service has already killed any window carrying our tag, and removed a worktree it made (rollback).
        onError: { target: 'normal', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
      },
      on: {
        // Persisted before the window step: a crash between the steps finds the worktree made.
        WORKSPACE_READY: { actions: 'recordWorkspaceReady' },
      },
    },
    active: {
      initial: 'running',
      on: {
        WINDOW_GONE: { target: 'orphaned', actions: 'forgetWindow' },
        // The pane moved (swap-pane, move-pane), was respawned by hand, or its server restarted.
        WINDOW_FOUND: [
          { guard: 'foundPaneDead', target: '.exited', actions: 'adoptWindow' },
          { target: '.running', actions: 'adoptWindow' },
        ],
        END: { target: 'ending', actions: 'recordDisposal' },
        SPAWN: { guard: 'modeFresh', target: 'ending', actions: 'queueFreshSpawn' },
      },
      states: {
        // Activity (DESIGN: Activity): busy until quiet; the screen or the agent's own signal
        // tells waiting from idle. A resumed or adopted session starts busy.
        running: {
          initial: 'busy',
          entry: 'startActivity',
          on: {
            PANE_EXITED: { target: 'exited', actions: 'recordExit' },
            // SPAWN resume or ensure on a running session changes nothing. The named action makes
            // the machine say it takes the event (`snapshot.can`), which a bare guard does not.
            SPAWN: { guard: 'modeKeeps', actions: 'attach' },
            SIGNAL: [
              { guard: 'signalBusy', target: '.busy', actions: 'decideActivity' },
              { guard: 'signalIdle', target: '.idle', actions: 'decideActivity' },
              { target: '.waiting', actions: 'decideActivity' },
            ],
          },
          states: {
            busy: {
              on: {
                QUIET: [
                  { guard: 'quietWaiting', target: 'waiting', actions: 'decideActivity' },
                  { guard: 'quietIdle', target: 'idle', actions: 'decideActivity' },
                ],
                // Output after a busy signal: silence and the screen decide again from here on.
                OUTPUT: { guard: 'signalled', actions: 'decideActivity' },
              },
            },
            idle: {
              on: { OUTPUT: { target: 'busy', actions: 'decideActivity' } },
            },
            waiting: {
              on: { OUTPUT: { target: 'busy', actions: 'decideActivity' } },
            },
          },
        },
        exited: {
          initial: 'stopped',
          on: {
            SPAWN: { guard: 'modeKeeps', target: '#warden-session.spawning', actions: 'prepareRespawn' },
          },
          states: {
            // Exited: the restart policy decides at once whether a restart is due or the limit reached.
            stopped: {
              always: [
                { guard: 'restartWanted', target: 'backoff' },
                { guard: 'restartLimitReached', target: 'gaveUp' },
              ],
            },
            backoff: {
              entry: 'scheduleRestart',
              on: {
                RESTART: { guard: 'restartIsDue', target: '#warden-session.spawning', actions: 'startRestart' },
              },
            },
            // The restart policy gave up: a hook on `active.exited.gaveUp` may alert a person.
            gaveUp: {},
          },
        },
      },
    },
    orphaned: {
      on: {
        WINDOW_FOUND: [
          { guard: 'foundPaneDead', target: 'active.exited', actions: 'adoptWindow' },
          { target: 'active.running', actions: 'adoptWindow' },
        ],
        SPAWN: [
          { guard: 'modeKeeps', target: 'spawning', actions: 'prepareRelaunch' },
          { guard: 'modeFresh', target: 'ending', actions: 'queueFreshSpawn' },
        ],
        END: { target: 'ending', actions: 'recordDisposal' },
      },
    },
    ending: {
      invoke: {
        id: 'cleanup',
        src: 'cleanupWindow',
        input: ({ context }) => ({
          sessionId: context.sessionId!,
          group: context.spec!.group,
          key: context.key,
          workspace: context.workspace ?? null,
          nextWorkspace: context.next?.workspace ?? null,
        }),
        onDone: [
          { guard: 'hasNextSpawn', target: 'spawning', actions: 'startNextSession' },
          { target: 'normal', actions: 'clearError' },
        ],
        // tmux did not answer: the window may still be there, so the record stays until RETRY.
        onError: { actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
      },
      on: {
        // The error is cleared so the retried cleanup reads as in flight (and is claimed) again.
        RETRY: { target: 'ending', reenter: true, actions: 'clearError' },
        // Each cleanup step's result is persisted before the next (window, then workspace).
        WINDOW_CLOSED: { actions: 'forgetWindow' },
        WORKSPACE_RELEASED: { actions: 'recordRemoval' },
      },
    },
  },
});

/** The type of `sessionMachine`, for typing actors and `.provide()`d variants. */
export type SessionMachine = typeof sessionMachine;
