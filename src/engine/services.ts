/**
 * The machine's services: what `spawning` and `ending` ask of the world, done through tmux.
 * Both are idempotent (invariant 2: a restored snapshot re-runs them), and neither touches tmux
 * before the record that names its work is durable here (invariant 4).
 */
import { isEnding, isSpawning } from '../../machines/paths.js';
import { windowSeen } from '../../machines/probe.js';
import type { CleanupInput, LaunchInput, LaunchOutput, SessionEvent } from '../../machines/session.js';
import { ConflictError, WardenError, toErrorData } from '../model/errors.js';
import { pausePoint } from '../model/pause-point.js';
import type { ErrorData, SessionContext, SessionRecord } from '../model/schema.js';
import type { Tmux } from '../tmux/commands.js';
import type { PaneRecord } from '../tmux/formats.js';
import { processEnded } from '../tmux/host.js';
import { launchEnvironment, removeEnvFile, writeEnvFile } from '../tmux/launch-env.js';
import { TmuxError } from '../tmux/transport.js';
import type { ActorPool } from './actor-pool.js';
import { launchedCommand } from './launch-spec.js';
import type { DurableView } from './durable-view.js';
import type { Ownership } from './ownership.js';
import type { SessionLogSink } from './types.js';
import type { Workspaces } from './workspaces.js';
import type { WriteBehind } from './write-behind.js';

/** `--pass-env` names, valued from this process's environment now (unset ones are left out). */
function passedEnv(names: readonly string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names ?? []) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** What the services need besides the collaborators. */
export interface ServiceOptions {
  /** A 0700 directory for the launch environment files (see tmux/launch-env.ts). */
  launchDir: string;
  /** How long `end` waits after SIGHUP, and after SIGTERM, before the next signal. */
  endGraceMs: number;
}

/** How often the escalation looks whether the program is gone. */
const GONE_CHECK_MS = 20;
/** How long a program is given to vanish after SIGKILL (a process in uninterruptible sleep takes a moment). */
const AFTER_KILL_MS = 2000;

/**
 * Ends the program of a pane (invariant 10): SIGHUP to its process group, then SIGTERM, then
 * SIGKILL, each after `graceMs` if it is still there. Resolves once it is gone; rejects when it
 * is not even after SIGKILL (another user's process, uninterruptible sleep).
 */
export async function endProgram(pid: number, graceMs: number, signal?: AbortSignal): Promise<void> {
  const steps: [NodeJS.Signals, number][] = [['SIGHUP', graceMs], ['SIGTERM', graceMs], ['SIGKILL', AFTER_KILL_MS]];
  for (const [name, wait] of steps) {
    if (processEnded(pid)) return;
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, name);
      } catch {
        // No such group (the program left it) or already gone: the other target, or done.
      }
    }
    const until = Date.now() + wait;
    while (Date.now() < until && !processEnded(pid)) {
      if (signal?.aborted) throw new WardenError('TMUX_FAILED', `ending program ${pid} was interrupted`);
      await new Promise((resolve) => setTimeout(resolve, GONE_CHECK_MS));
    }
  }
  if (!processEnded(pid)) throw new WardenError('TMUX_FAILED', `program ${pid} is still running after SIGKILL: end it by hand (kill -KILL ${pid})`);
}

/** A pane whose program still runs. */
function running(pane: PaneRecord): boolean {
  return !pane.dead && pane.pid !== null;
}

function notOurs(key: string): ConflictError {
  return new ConflictError(`spawn of ${key} was taken over by another process while this one was stopped: nothing was done; see 'warden status ${key}'`);
}

export class SessionServices {
  constructor(
    private readonly tmux: Tmux,
    private readonly view: DurableView,
    private readonly pool: ActorPool,
    private readonly writes: WriteBehind,
    private readonly owners: Ownership,
    private readonly workspaces: Workspaces,
    private readonly logs: SessionLogSink,
    private readonly options: ServiceOptions,
  ) {}

  /**
   * The `launchWindow` service: the session's worktree first (when it has one), then a window (or
   * a respawned pane) carrying the session's tag. The worktree step's result is durable before the
   * window step starts; a launch that fails after making the worktree removes it again.
   */
  async launch(input: LaunchInput, signal: AbortSignal): Promise<LaunchOutput> {
    await this.claimLaunch(input.key, input.sessionId);
    const { spec, sessionId, key } = input;
    pausePoint('before-launch');
    // Stopped or slow since the claim: the launch may have become another process's (invariant 11).
    if (!(await this.stillOurs(key, sessionId))) throw notOurs(key);
    await this.prepareWorkspace(input, signal);
    const command = launchedCommand(spec, input.launch, { sessionId, key });
    // Invariant 15 and defect 7: the caller's environment with the session's over it, through a
    // 0600 file, never through an argv; `--pass-env` names read from this process now.
    const env = launchEnvironment({ ...spec.env, ...passedEnv(spec.passEnv), WARDEN_SESSION_ID: sessionId, WARDEN_KEY: key });
    let envFile: string | undefined;
    try {
      // Invariant 2: a launch that may have run before (restored snapshot), or whose session's
      // window may be there again (respawn; relaunch of an orphan whose window came back since
      // the last probe), adopts the window carrying its id instead of creating a second one.
      const mayExist = this.owners.mayHaveLaunched(sessionId) || input.launch !== 'create';
      const owned = mayExist ? await this.tmux.findOwned(sessionId, { signal }) : [];
      this.owners.launchedOnce(sessionId);
      const pane = owned.find((p) => p.paneId === input.paneId) ?? owned[0];
      if (pane && !(input.launch === 'respawn' && pane.dead)) return { ...this.withServer(windowSeen(pane), pane.serverPid), at: new Date().toISOString() };
      const pipe = await this.logs.pipeFor(key, sessionId);
      envFile = writeEnvFile(this.options.launchDir, env);
      const ref = pane
        ? await this.tmux.respawnPane(pane.paneId, command, { cwd: spec.cwd, envFile, sessionId, pipe }, { signal })
        : await this.tmux.launchWindow({ group: spec.group, name: key, sessionId, command, cwd: spec.cwd, envFile, pipe }, { signal });
      if (mayExist && !pane) {
        // The process that died may have left its tmux client running: its window can land just
        // after our look. It carries our id, so it is ours: keep the one the record will name.
        await this.tmux.killOwnedWindows(sessionId, { signal, keep: ref.windowId }).catch(() => undefined);
      }
      return { ...this.withServer({ windowId: ref.windowId, paneId: ref.paneId, pid: ref.pid, dead: false, exitStatus: null }, ref.serverPid), at: new Date().toISOString() };
    } catch (err) {
      if (envFile) removeEnvFile(envFile);
      if (signal.aborted) throw toErrorData(err, 'TMUX_FAILED');
      // The socket of our live server is gone: no tmux was reached, so nothing can carry the id.
      if (err instanceof TmuxError && err.kind === 'socket-gone') throw await this.rollBackWorkspace(input, toErrorData(err, 'TMUX_SOCKET_GONE'));
      // Never roll back work that is no longer ours: its windows are another process's now.
      if (!(await this.stillOurs(key, sessionId).catch(() => false))) throw toErrorData(err, 'TMUX_FAILED');
      // Rollback: no window may carry the id of a session that did not come up. A tmux that
      // timed out is not asked for the screen first: it would only double the wait.
      if (!(err instanceof TmuxError && err.kind === 'timeout')) await this.saveScreens(key, sessionId).catch(() => undefined);
      const rolledBack = await this.tmux.killOwnedWindows(sessionId).then(
        () => true,
        () => false,
      );
      if (!rolledBack) await this.leaveSpawning(key, sessionId, toErrorData(err, 'TMUX_FAILED'), signal);
      throw await this.rollBackWorkspace(input, toErrorData(err, 'TMUX_FAILED'));
    }
  }

  /**
   * The `cleanupWindow` service, in reverse order of creation: the session's programs are ended
   * (HUP, TERM, KILL on each pane's process group, invariant 10), then its panes are killed, with
   * their window when nothing of anyone else is in it; then (its result durable first) the
   * session's worktree is released as its disposal says. A worktree handed to a fresh restart of
   * the key stays.
   */
  async cleanup(input: CleanupInput, signal: AbortSignal): Promise<void> {
    await this.claimCleanup(input.sessionId);
    try {
      await this.saveScreens(input.key, input.sessionId, signal);
      const owned = await this.tmux.findOwned(input.sessionId, { signal });
      await Promise.all(owned.filter(running).map((pane) => endProgram(pane.pid!, this.options.endGraceMs, signal)));
      await this.tmux.killOwnedWindows(input.sessionId, { signal });
    } catch (err) {
      throw toErrorData(err, 'TMUX_FAILED');
    }
    const ws = input.workspace;
    if (!ws || input.nextWorkspace?.path === ws.path) return;
    await this.persistStep(input.key, input.sessionId, { type: 'WINDOW_CLOSED' }, (context) => context.windowId === null, signal);
    let removal;
    try {
      removal = await this.workspaces.release(ws, ws.disposal ?? 'guarded', signal);
    } catch (err) {
      throw toErrorData(err, 'WORKTREE_FAILED');
    }
    // The last step: its result goes into the same write that removes the record (and into history).
    this.pool.get(input.key)?.send({ type: 'WORKSPACE_RELEASED', removal });
  }

  /** The workspace step of a launch: the worktree exists, and the record says so, before any window. */
  private async prepareWorkspace(input: LaunchInput, signal: AbortSignal): Promise<void> {
    const ws = input.workspace;
    if (!ws || ws.ready) return;
    try {
      await this.workspaces.ensure(ws, signal);
    } catch (err) {
      const error = toErrorData(err, 'WORKTREE_FAILED');
      if (signal.aborted) throw error;
      throw await this.rollBackWorkspace(input, error);
    }
    await this.persistStep(input.key, input.sessionId, { type: 'WORKSPACE_READY' }, (context) => context.workspace?.ready === true, signal);
  }

  /**
   * A new session that did not come up takes its worktree back with it, guarded as an end is (a
   * worktree that somehow holds work is kept, and the error says so). A resumed session keeps its own.
   */
  private async rollBackWorkspace(input: LaunchInput, error: ErrorData): Promise<ErrorData> {
    const ws = input.workspace;
    if (!ws || !ws.created || input.launch !== 'create') return error;
    const removal = await this.workspaces.release(ws, 'guarded').catch((err: unknown) => ({ kept: toErrorData(err).message }));
    return removal.kept ? { ...error, message: `${error.message}; ${removal.kept}` } : error;
  }

  /**
   * Hands one step's result to the session's actor (an event that changes only its context) and
   * waits until it is durable, so a crash after this point finds the step done.
   */
  private async persistStep(
    key: string,
    sessionId: string,
    event: SessionEvent,
    done: (context: SessionContext) => boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const actor = this.pool.get(key);
    if (!actor || actor.getSnapshot().context.sessionId !== sessionId) {
      throw new WardenError('CONFLICT', `${key} changed while its ${event.type} step ran: run the command again`).toData();
    }
    const durable = this.writes.whenDurable(key, (record) => record !== null && record.snapshot.context.sessionId === sessionId && done(record.snapshot.context));
    actor.send(event);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new WardenError('CONFLICT', `${key}: the ${event.type} step was cancelled`).toData());
      signal.addEventListener('abort', onAbort, { once: true });
      durable.then(
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  /** A launch's answer with the identity of the server that holds it (invariant 9). */
  private withServer(seen: LaunchOutput, serverPid: number | null): LaunchOutput {
    return serverPid === null ? seen : { ...seen, server: this.tmux.serverIdentity(serverPid) };
  }

  /** The durable record (re-read when the file changed) is still our `spawning` of `sessionId`. */
  private async stillOurs(key: string, sessionId: string): Promise<boolean> {
    await this.view.sync();
    const record = this.view.record(key) ?? null;
    return record !== null && isSpawning(record.snapshot.value) && record.snapshot.context.sessionId === sessionId && this.owners.isOurs(record);
  }

  /** Invariant 4: no tagged window before the `spawning` record that names it is durable here. */
  private async claimLaunch(key: string, sessionId: string): Promise<void> {
    const mine = (record: SessionRecord | null) =>
      record !== null && isSpawning(record.snapshot.value) && record.snapshot.context.sessionId === sessionId && this.owners.isOurs(record);
    if (mine(this.view.record(key) ?? null) && !this.writes.isPending(key)) return;
    await this.writes.whenDurable(key, mine);
  }

  /**
   * tmux failed (a timeout, typically) and did not answer the rollback either: the window may
   * exist. Rolling back to `normal` would drop the record of a window that may be there, so the
   * record stays `spawning` and the launch is left to whoever opens the file next once this
   * process is gone (while it lives, to its own next reconcile), which adopts the window or
   * creates it once. The caller hears now.
   */
  private async leaveSpawning(key: string, sessionId: string, error: ErrorData, signal: AbortSignal): Promise<void> {
    const unconfirmed = new WardenError(
      'TMUX_FAILED',
      `spawn of ${key} is unconfirmed: tmux did not answer (${error.message}); it stays spawning and the next 'warden ls' finishes it`,
      { stderr: error.stderr },
    );
    this.writes.rejectWaiters(key, unconfirmed);
    this.owners.park(key, sessionId);
    try {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    } finally {
      this.owners.unpark(key);
    }
  }

  /**
   * No window is killed before the `ending` record that says so is durable here: killed first, a
   * concurrent probe elsewhere would see the window gone, orphan the record, and our end would
   * then lose the race with the window already dead.
   */
  private async claimCleanup(sessionId: string): Promise<void> {
    const key = this.pool.entries().find(([, actor]) => {
      const { value, context } = actor.getSnapshot();
      return isEnding(value) && context.sessionId === sessionId;
    })?.[0];
    if (key === undefined) return;
    // Whoever wrote it: a retried cleanup (RETRY) may finish what a failed one recorded.
    const durable = (record: SessionRecord | null) =>
      record !== null && isEnding(record.snapshot.value) && record.snapshot.context.sessionId === sessionId;
    if (durable(this.view.record(key) ?? null) && !this.writes.isPending(key)) return;
    await this.writes.whenDurable(key, durable);
  }

  /**
   * Before a kill, each pane of the session's windows (screen and scrollback) goes into its log:
   * the last screen is kept even where the pipe missed output. A pane that cannot be captured is
   * killed all the same; a tmux that does not answer the look would not answer the kill either.
   */
  private async saveScreens(key: string, sessionId: string, signal?: AbortSignal): Promise<void> {
    if (!this.logs.logFile(key, sessionId)) return;
    const panes = await this.tmux.findOwned(sessionId, { signal });
    for (const pane of panes) {
      const captured = await this.tmux.capturePane(pane.paneId, { lines: 'all' }, { signal }).catch(() => '');
      await this.logs.saveScreen(key, sessionId, captured);
    }
  }
}
