/**
 * The watch loop: reconcile when tmux says something changed, and otherwise sleep. A control
 * client on the group wakes it the moment a window closes or appears; the pane-died hook's
 * channel wakes it when a pane exits; and a format subscription on every pane's `pane_dead`
 * (tmux ≥ 3.2) wakes it for a pane tmux marks dead without firing the hook (tmux 3.3a can), so
 * nothing is polled per pane and a watch at rest costs nothing. While no client is attached (no
 * group yet, an old tmux) it polls every `intervalMs`; while one is, a safety reconcile runs every
 * `safetyIntervalMs`. An unknown probe is skipped, never acted on.
 */
import type { WatchLoop, WatchOptions, Watched } from '../engine/types.js';
import { TmuxEvents } from '../tmux/control.js';
import { PANE_DEAD_SUBSCRIPTION, wakesWatcher } from './signals.js';

/** How soon a dead pane whose exit status tmux does not know yet is looked at again: soon, then less often. */
const EXIT_RECHECK_MS = [2, 4, 8, 16, 25];

export class Watcher implements WatchLoop {
  private readonly stop = new AbortController();
  private readonly events: TmuxEvents;
  private changed = false;
  private wake: (() => void) | null = null;

  constructor(private readonly engine: Watched) {
    // The typed notifications decide (signals.ts), not the client's own summary of them.
    this.events = new TmuxEvents(engine.tmux, engine.group, () => undefined);
    this.events.subscribe(PANE_DEAD_SUBSCRIPTION, '#{pane_dead}');
    this.events.onNotification((notification) => {
      if (!wakesWatcher(notification)) return;
      this.changed = true;
      this.wake?.();
    });
  }

  /** Ends the loop and its control client. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.events.close();
  }

  async run(options: WatchOptions = {}): Promise<void> {
    const intervalMs = options.intervalMs ?? 500;
    const safetyIntervalMs = options.safetyIntervalMs ?? Math.max(intervalMs, 60_000);
    const stop = this.stop;
    const onAbort = () => stop.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop.abort();
    const events = this.events;
    // A tmux that refuses the control client (too old, say) is asked again only now and then.
    let nextAttach = 0;
    let rechecks = 0;
    try {
      while (!stop.signal.aborted && !this.engine.isClosed()) {
        this.changed = false;
        const { exitsPending } = await this.engine.reconcile();
        await this.engine.keepLogs();
        const group = this.engine.groupSeen();
        if (options.control !== false && !events.connected && group.exists && Date.now() >= nextAttach) {
          // Windows made before the pane-died hook existed get it now; then listen.
          await this.engine.tmux.hookPaneDeaths(group.taggedWindows).catch(() => undefined);
          if (await events.connect()) continue; // look once more: something may have changed meanwhile
          nextAttach = Date.now() + safetyIntervalMs;
        }
        if (this.changed || stop.signal.aborted) continue;
        const wait = events.connected ? safetyIntervalMs : intervalMs;
        // tmux reports a pane dead (and fires pane-died) a moment before it has its exit status.
        rechecks = exitsPending > 0 ? rechecks + 1 : 0;
        const recheck = EXIT_RECHECK_MS[Math.min(rechecks, EXIT_RECHECK_MS.length) - 1];
        await this.sleep(recheck === undefined ? wait : Math.min(wait, recheck));
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      await events.close();
    }
  }

  /** Waits `ms`, or less when tmux reports a change or the loop is stopped. */
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
}
