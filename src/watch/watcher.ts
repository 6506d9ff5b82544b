/**
 * The watch loop: reconcile when something changed, and otherwise sleep. A control client on the
 * group wakes it the moment a window closes or appears, and reports output (activity); the
 * pane-died hook's channel wakes it when a pane exits; a format subscription on every pane's
 * `pane_dead` (tmux ≥ 3.2) wakes it for a pane tmux marks dead without firing the hook (tmux 3.3a
 * can); and a watch on the state file's directory wakes it when another process writes. So
 * nothing is polled per pane, and a watch at rest runs no timer but the safety reconcile (every
 * `safetyIntervalMs` while a client is attached) and the next quiet deadline of a busy pane. While
 * no client is attached (no group yet, an old tmux) it polls every `intervalMs`. An unknown probe
 * is skipped, never acted on.
 */
import { watch as watchDirectory, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { isRestartPending } from '../../machines/paths.js';
import { lastOutput, type PaneWatch } from '../engine/activity.js';
import type { WatchLoop, WatchOptions, Watched } from '../engine/types.js';
import { TmuxEvents } from '../tmux/control.js';
import { PANE_DEAD_SUBSCRIPTION, outputPane, wakesWatcher } from './signals.js';

/** How soon a dead pane whose exit status tmux does not know yet is looked at again: soon, then less often. */
const EXIT_RECHECK_MS = [2, 4, 8, 16, 25];

export class Watcher implements WatchLoop {
  private readonly stop = new AbortController();
  private readonly events: TmuxEvents;
  private changed = false;
  private wake: (() => void) | null = null;
  /** When each pane last printed, as heard from the control client (ms). */
  private readonly heard = new Map<string, number>();
  /** The running sessions' panes, as of the last reconcile. */
  private panes = new Map<string, PaneWatch>();
  /** When the last reconcile began: a quiet deadline before it was that reconcile's to decide. */
  private lastLook = 0;
  private fileWatch: FSWatcher | null = null;

  constructor(private readonly engine: Watched) {
    // The typed notifications decide (signals.ts), not the client's own summary of them.
    this.events = new TmuxEvents(engine.tmux, engine.group, () => undefined);
    this.events.subscribe(PANE_DEAD_SUBSCRIPTION, '#{pane_dead}');
    this.events.onNotification((notification) => {
      const paneId = outputPane(notification);
      if (paneId !== null) {
        // Output of a busy pane only moves its quiet deadline; of an idle or waiting one, it is news.
        this.heard.set(paneId, Date.now());
        if (!this.panes.get(paneId)?.wakeOnOutput) return;
      } else if (!wakesWatcher(notification)) return;
      this.wakeUp();
    });
  }

  private wakeUp(): void {
    this.changed = true;
    this.wake?.();
  }

  /** The earliest quiet deadline of a busy pane not yet looked at, or null. */
  private nextQuietDue(): number | null {
    let next: number | null = null;
    for (const [paneId, watch] of this.panes) {
      if (watch.busySince === null) continue;
      const due = Math.max(watch.busySince, lastOutput(watch.activityAt, this.heard.get(paneId)) ?? 0) + watch.quietMs;
      if (due > this.lastLook && (next === null || due < next)) next = due;
    }
    return next;
  }

  /**
   * Another process may start or resume a program while we watch (a CLI call): its write to the
   * state file wakes the loop, which then knows the new session. inotify costs nothing at rest;
   * our own writes are told apart by `syncFile` (nothing new to read).
   */
  private watchStateFile(): void {
    if (this.fileWatch || !this.engine.stateFile) return;
    const name = path.basename(this.engine.stateFile);
    try {
      this.fileWatch = watchDirectory(path.dirname(this.engine.stateFile), { persistent: false }, (_event, file) => {
        if (file !== null && file !== name) return;
        void this.engine.syncFile().then(
          (changed) => changed && this.wakeUp(),
          () => undefined,
        );
      });
      this.fileWatch.on('error', () => undefined);
    } catch {
      // No inotify here (a network file system): the safety reconcile still reads the file.
      this.fileWatch = null;
    }
  }

  /** Ends the loop and its control client. */
  async close(): Promise<void> {
    this.stop.abort();
    this.fileWatch?.close();
    await this.events.close();
  }

  async run(options: WatchOptions = {}): Promise<void> {
    const intervalMs = options.intervalMs ?? 500;
    const activity = options.activity !== false;
    const safetyIntervalMs = options.safetyIntervalMs ?? Math.max(intervalMs, 60_000);
    const stop = this.stop;
    const onAbort = () => stop.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop.abort();
    const events = this.events;
    this.watchStateFile();
    // A client that could not attach is tried again soon (the group may have been going away as
    // it tried: the last session ended just then), then less and less often up to the safety
    // interval (a tmux that refuses control mode altogether, say).
    let nextAttach = 0;
    let attachBackoff = 0;
    let rechecks = 0;
    try {
      while (!stop.signal.aborted && !this.engine.isClosed()) {
        this.changed = false;
        this.lastLook = Date.now();
        const heard = this.heard;
        const { exitsPending } = await this.engine.reconcile({ lastOutputAt: (paneId) => heard.get(paneId) }, { activity });
        await this.engine.keepLogs();
        this.panes = activity ? this.engine.paneWatches() : new Map();
        for (const paneId of heard.keys()) if (!this.panes.has(paneId)) heard.delete(paneId);
        const group = this.engine.groupSeen();
        // No group, no attach to try: when it comes back, the first pass that sees it tries at once.
        if (!group.exists) nextAttach = attachBackoff = 0;
        if (options.control !== false && !events.connected && group.exists && Date.now() >= nextAttach) {
          // Windows made before the pane-died hook existed get it now; then listen.
          await this.engine.tmux.hookPaneDeaths(group.taggedWindows).catch(() => undefined);
          if (await events.connect({ output: activity })) {
            attachBackoff = 0;
            continue; // look once more: something may have changed meanwhile
          }
          attachBackoff = Math.min(safetyIntervalMs, Math.max(intervalMs, attachBackoff * 2));
          nextAttach = Date.now() + attachBackoff;
        }
        if (this.changed || stop.signal.aborted) continue;
        let wait = events.connected ? safetyIntervalMs : intervalMs;
        // tmux reports a pane dead (and fires pane-died) a moment before it has its exit status.
        rechecks = exitsPending > 0 ? rechecks + 1 : 0;
        const recheck = EXIT_RECHECK_MS[Math.min(rechecks, EXIT_RECHECK_MS.length) - 1];
        if (recheck !== undefined) wait = Math.min(wait, recheck);
        const quiet = this.nextQuietDue();
        if (quiet !== null) wait = Math.max(0, Math.min(wait, quiet - Date.now()));
        // A restart the policy made due wakes the loop at its deadline, not at the next poll.
        const restart = this.nextRestart();
        if (restart !== Infinity) wait = Math.max(0, Math.min(wait, restart - Date.now()));
        await this.sleep(wait);
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.fileWatch?.close();
      this.fileWatch = null;
      await events.close();
    }
  }

  /** Waits `ms`, or less when something changed or the loop is stopped. */
  private sleep(ms: number): Promise<void> {
    const stop = this.stop;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      stop.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** The earliest restart deadline of an exited session, as last made durable (Infinity: none). */
  private nextRestart(): number {
    let next = Infinity;
    for (const [, { snapshot }] of this.engine.records()) {
      const at = snapshot.context.restartAt;
      if (at && isRestartPending(snapshot.value)) next = Math.min(next, Date.parse(at));
    }
    return next;
  }
}
