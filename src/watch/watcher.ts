/**
 * The watch loop: reconcile continuously until told to stop. A tmux control client on the group
 * (plus the pane-died channel) wakes it the moment a window closes or a pane exits; every
 * `intervalMs` a poll runs anyway while no client is attached (no group yet, old tmux), and every
 * `safetyIntervalMs` while one is. An unknown probe is skipped, never acted on.
 */
import { isRunning } from '../../machines/paths.js';
import { lastOutput, type PaneWatch } from '../engine/activity.js';
import type { WatchLoop, WatchOptions, Watched } from '../engine/types.js';
import { TmuxEvents } from '../tmux/control.js';
import { processEnded } from '../tmux/host.js';
import { outputPane, wakesWatcher } from './signals.js';

/** How soon `watch` looks again at a dead pane whose exit status is not known yet. */
const EXIT_RECHECK_MS = 25;
/** How often `watch` looks at running panes' processes between tmux's notifications. */
const PROCESS_CHECK_MS = 100;
/** At most this many processes per look (about 1 ms of /proc reads): 10,000 sessions take 4 s. */
const PROCESS_CHECK_BATCH = 256;

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

  constructor(private readonly engine: Watched) {
    // The typed notifications decide (signals.ts), not the client's own summary of them.
    this.events = new TmuxEvents(engine.tmux, engine.group, () => undefined);
    this.events.onNotification((notification) => {
      const paneId = outputPane(notification);
      if (paneId !== null) {
        // Output of a busy pane only moves its quiet deadline; of an idle or waiting one, it is news.
        this.heard.set(paneId, Date.now());
        if (!this.panes.get(paneId)?.wakeOnOutput) return;
      } else if (!wakesWatcher(notification)) return;
      this.changed = true;
      this.wake?.();
    });
  }

  /** Whether some busy pane's quiet period ended since the last look: its screen is read now. */
  private quietDue(now = Date.now()): boolean {
    for (const [paneId, watch] of this.panes) {
      if (watch.busySince === null) continue;
      const due = Math.max(watch.busySince, lastOutput(watch.activityAt, this.heard.get(paneId)) ?? 0) + watch.quietMs;
      if (due <= now && due > this.lastLook) return true;
    }
    return false;
  }

  /** Ends the loop and its control client. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.events.close();
  }

  async run(options: WatchOptions = {}): Promise<void> {
    const intervalMs = options.intervalMs ?? 500;
    const activity = options.activity !== false;
    const safetyIntervalMs = options.safetyIntervalMs ?? Math.max(intervalMs, 10_000);
    const stop = this.stop;
    const onAbort = () => stop.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop.abort();
    const events = this.events;
    // A tmux that refuses the control client (too old, say) is asked again only now and then.
    let nextAttach = 0;
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
        if (options.control !== false && !events.connected && group.exists && Date.now() >= nextAttach) {
          // Windows made before the pane-died hook existed get it now; then listen.
          await this.engine.tmux.hookPaneDeaths(group.taggedWindows).catch(() => undefined);
          if (await events.connect({ output: activity })) continue; // look once more: something may have changed meanwhile
          nextAttach = Date.now() + safetyIntervalMs;
        }
        if (this.changed || stop.signal.aborted) continue;
        const wait = events.connected ? safetyIntervalMs : intervalMs;
        // tmux reports a pane dead (and fires pane-died) before it has its exit status: look again soon.
        const until = Date.now() + (exitsPending > 0 ? Math.min(wait, EXIT_RECHECK_MS) : wait);
        await this.idle(until);
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      await events.close();
    }
  }

  /**
   * Waits until `until` or a wake-up. tmux 3.3a sometimes marks a pane dead without reaping its
   * process or firing pane-died, so no notification comes: meanwhile, look at the running panes'
   * processes locally, a bounded batch per tick so the cost stays flat however many sessions.
   */
  private async idle(until: number): Promise<void> {
    const stop = this.stop;
    const running = this.runningPids();
    let cursor = 0;
    while (!this.changed && !stop.signal.aborted && Date.now() < until && !this.quietDue()) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          stop.signal.removeEventListener('abort', done);
          this.wake = null;
          resolve();
        };
        const timer = setTimeout(done, Math.min(until - Date.now(), PROCESS_CHECK_MS));
        this.wake = done;
        stop.signal.addEventListener('abort', done, { once: true });
      });
      if (!this.events.connected) continue;
      // Another process may have started or resumed a program since (defect 5): its pid is not
      // among ours, and tmux 3.3a may never fire its pane-died hook. A file that changed (one
      // stat) means look now, and watch the new pids from then on.
      if (await this.engine.syncFile().catch(() => false)) return;
      if (running.length === 0) continue;
      const batch = Math.min(running.length, PROCESS_CHECK_BATCH);
      const ended = Array.from({ length: batch }, (_, i) => running[(cursor + i) % running.length]!).some(processEnded);
      cursor = (cursor + batch) % running.length;
      if (ended) return;
    }
  }

  /** The pids of the programs of running sessions, as last made durable. */
  private runningPids(): number[] {
    const pids: number[] = [];
    for (const [, { snapshot }] of this.engine.records()) {
      if (snapshot.context.pid !== null && isRunning(snapshot.value)) pids.push(snapshot.context.pid);
    }
    return pids;
  }
}
