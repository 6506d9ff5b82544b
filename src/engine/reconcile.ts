/**
 * Reconcile: one probe of everything (one tmux process), then each session is told what tmux
 * shows, as the machine's own probe mapping says. An unknown answer changes nothing.
 */
import { isActive, isOrphaned, isRunning } from '../../machines/paths.js';
import { EXIT_PENDING, probeEvent, windowSeen } from '../../machines/probe.js';
import type { SessionEvent } from '../../machines/session.js';
import { panesBySession } from '../tmux/commands.js';
import type { SessionContext } from '../model/schema.js';
import type { PaneRecord } from '../tmux/formats.js';
import { paneWatches, type OutputHints, type PaneWatch } from './activity.js';
import type { EngineCore } from './core.js';
import { lookalikeWindows, type Lookalike } from './lookalikes.js';
import type { ReconcileResult, TransitionEvent } from './types.js';

/** What the last probe saw of the group: whether a control client can attach, which windows to hook. */
export interface GroupSeen {
  exists: boolean;
  taggedWindows: string[];
}

/** How much of an exited program's output its record keeps. */
const LAST_OUTPUT_LINES = 10;
const LAST_OUTPUT_CHARS = 2000;
/** tmux's line under a dead pane (remain-on-exit-format): written once it has read all the program wrote. */
const DEAD_LINE = /^Pane is dead/;
/** Looks again without that line: this many times, this far apart. */
const LAST_OUTPUT_LOOKS = 3;
const LAST_OUTPUT_RELOOK_MS = 15;

export class Reconciler {
  groupSeen: GroupSeen = { exists: false, taggedWindows: [] };
  /** When each pane last printed anything, as the last probe showed it (tmux's `window_activity`). */
  readonly paneActivity = new Map<string, number>();

  constructor(private readonly core: EngineCore) {}

  /** `hints`: what a control client heard of output since the last probe (the watcher's). */
  async reconcile(hints?: OutputHints, options: { activity?: boolean } = {}): Promise<ReconcileResult> {
    const core = this.core;
    core.assertOpen();
    await core.sync();
    const probe = await core.tmux.probeAll({ timeoutMs: core.probeTimeoutMs });
    if (probe.kind === 'unknown') return { probe: 'unknown', transitions: [], exitsPending: 0, error: probe.error.toData() };
    // Closed while tmux answered: act on nothing (a reconcile in flight when close() is called).
    if (core.isClosed) return { probe: probe.kind, transitions: [], exitsPending: 0 };
    // tmux answers again: a launch this process left unconfirmed is taken over like a dead one's.
    core.owners.releaseParked();
    // Only now that tmux answered: a resumed spawn or cleanup without tmux would roll back a record.
    core.owners.resumeAbandoned();
    const panes = probe.kind === 'ok' ? probe.panes : [];
    const inGroup = panes.filter((p) => p.sessionName === core.group);
    this.groupSeen = {
      exists: inGroup.length > 0,
      taggedWindows: [...new Set(inGroup.filter((p) => p.tag).map((p) => p.windowId))],
    };
    const byTag = panesBySession(panes);
    const server = probe.kind === 'ok' ? probe.server : null;
    this.paneActivity.clear();
    for (const pane of panes) if (pane.tag && pane.activityAt !== null) this.paneActivity.set(pane.paneId, pane.activityAt);
    const transitions: TransitionEvent[] = [];
    let exitsPending = 0;
    const exits: [string, Extract<SessionEvent, { type: 'PANE_EXITED' }>, string | null][] = [];
    const stop = core.writes.subscribe((event) => transitions.push(event));
    try {
      // Everything this probe shows was seen at one moment.
      const at = new Date().toISOString();
      const running: { key: string; snapshot: { value: unknown; context: SessionContext }; pane: PaneRecord | undefined }[] = [];
      for (const [key, record] of core.view.entries()) {
        if (core.view.problem(key)) continue;
        const actor = core.pool.get(key);
        const current = actor ? actor.getSnapshot() : core.currentSnapshot(key)!;
        const { sessionId } = current.context;
        const owned = (sessionId ? byTag.get(sessionId) ?? [] : []).map((p) => ({ ...windowSeen(p), server }));
        const event = probeEvent(current.value, current.context, { owned, busyElsewhere: core.owners.busyElsewhere(record), now: at });
        if (event === EXIT_PENDING) exitsPending++;
        else if (event?.type === 'PANE_EXITED') exits.push([key, event, current.context.paneId]);
        else if (event && !this.pureStep(key, event, at)) core.dispatch(key, event);
        else if (!event && options.activity !== false && isRunning(current.value)) {
          const owned = sessionId ? byTag.get(sessionId) ?? [] : [];
          running.push({ key, snapshot: current, pane: owned.find((p) => p.paneId === current.context.paneId) ?? owned[0] });
        }
      }
      for (const [key, event] of await core.activity.events(running, hints)) {
        if (!this.pureStep(key, event, at)) core.dispatch(key, event);
      }
      // What an exited program last printed says why it exited (a missing binary, a crash).
      const outputs = await Promise.all(exits.map(([, , paneId]) => (paneId ? this.lastOutput(paneId) : null)));
      exits.forEach(([key, event], i) => {
        const withOutput = { ...event, lastOutput: outputs[i] ?? null };
        if (!this.pureStep(key, withOutput, at)) core.dispatch(key, withOutput);
      });
      await core.settle();
      await this.killDuplicateWindows(byTag);
    } finally {
      stop();
    }
    return { probe: probe.kind, transitions, exitsPending, lookalikes: this.lookalikes(panes) };
  }

  /** Untagged windows named like an orphaned session, in that session's tmux session. */
  private lookalikes(panes: readonly PaneRecord[]): Lookalike[] {
    const orphaned = new Map<string, string>();
    for (const [key, record] of this.core.view.entries()) {
      if (isOrphaned(record.snapshot.value)) orphaned.set(key, record.snapshot.context.spec?.group ?? this.core.group);
    }
    return orphaned.size === 0 ? [] : lookalikeWindows(orphaned, panes);
  }

  /** The running sessions' panes as a watcher should treat their output (see PaneWatch). */
  paneWatches(): Map<string, PaneWatch> {
    const core = this.core;
    const current = core.view.keys().flatMap((key) => core.pool.get(key)?.getSnapshot() ?? core.currentSnapshot(key) ?? []);
    return paneWatches(core.activity, current, this.paneActivity);
  }

  /**
   * The last lines a dead pane shows (at most LAST_OUTPUT_LINES), or null when tmux cannot say.
   * tmux can report a pane dead (its process reaped) before it has read the last bytes the program
   * wrote; it writes its "Pane is dead" line only once it has them all. Without that line the
   * screen is looked at again, a few ms apart, until it shows the line or stops changing (three
   * more looks at most).
   */
  private async lastOutput(paneId: string): Promise<string | null> {
    let previous: string | null = null;
    for (let look = 0; ; look++) {
      let text: string;
      try {
        text = await this.core.tmux.capturePane(paneId, { lines: LAST_OUTPUT_LINES }, { timeoutMs: this.core.probeTimeoutMs });
      } catch {
        return null;
      }
      const all = text.split('\n').map((l) => l.trimEnd());
      // A screen unchanged since the last look has settled too (a user's own remain-on-exit-format).
      if (!all.some((l) => DEAD_LINE.test(l)) && text !== previous && look < LAST_OUTPUT_LOOKS) {
        previous = text;
        await new Promise((resolve) => setTimeout(resolve, LAST_OUTPUT_RELOOK_MS));
        continue;
      }
      const lines = all.filter((l) => l !== '' && !DEAD_LINE.test(l));
      return lines.slice(-LAST_OUTPUT_LINES).join('\n').slice(-LAST_OUTPUT_CHARS) || null;
    }
  }

  /**
   * Takes a probe event for a key that has no actor without creating one, when the event can only
   * lead to a state at rest (see PureStepper). False when an actor is needed after all.
   */
  private pureStep(key: string, event: Parameters<EngineCore['dispatch']>[1], at: string): boolean {
    const core = this.core;
    if (core.pool.has(key)) return false;
    const current = core.currentSnapshot(key);
    if (!current) return false;
    const step = core.steps.step(current, event);
    if (!step) return false;
    if (!step.changed) return true;
    const transition = step.to !== step.from
      ? { key, sessionId: step.snapshot.context.sessionId, from: step.from, to: step.to, event: event.type, at }
      : null;
    core.writes.takePureStep(key, step.snapshot, transition);
    return true;
  }

  /**
   * Invariant 2 after a crash: a killed process's tmux client may still create its window after
   * another process launched one for the same id. Both carry the id, so both are ours: keep the
   * one the record names, kill the rest. Costs nothing unless the probe showed a duplicate.
   */
  private async killDuplicateWindows(byTag: Map<string, PaneRecord[]>): Promise<void> {
    for (const [, record] of this.core.view.entries()) {
      const { sessionId, windowId } = record.snapshot.context;
      if (!sessionId || !windowId || !isActive(record.snapshot.value)) continue;
      const windows = new Set((byTag.get(sessionId) ?? []).map((p) => p.windowId));
      if (windows.size < 2 || !windows.has(windowId)) continue;
      await this.core.tmux.killOwnedWindows(sessionId, { keep: windowId }).catch(() => undefined);
    }
  }
}
