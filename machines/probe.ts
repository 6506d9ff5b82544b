/**
 * What one probe of tmux means for one session, as a machine event: pure, beside the machine, so
 * the engine never decides from a state string what a window's absence means.
 */
import type { SessionContext } from '../src/model/schema.js';
import { activityIn, isEnding, isExited, isOrphaned, isRunning } from './paths.js';
import type { SessionEvent, WindowSeen } from './session.js';

/** A pane tmux shows dead whose exit status it does not know yet: a later probe brings it. */
export const EXIT_PENDING = 'exit-pending' as const;

/** What the probe saw of one session, and what the engine knows of who is working on it. */
export interface ProbeView {
  /** The session's panes: those carrying its pane tag (or, made before pane tags, its window's). */
  owned: readonly WindowSeen[];
  /** A live process other than this one is carrying out the session's service. */
  busyElsewhere: boolean;
  /** When the probe was made (ISO time): a restart whose deadline is past is due. */
  now?: string | undefined;
}

/** Whether the probe shows the session's pane other than the record has it: moved, respawned, on another server. */
function paneChanged(context: Pick<SessionContext, 'windowId' | 'paneId' | 'pid' | 'server'>, pane: WindowSeen): boolean {
  if (pane.windowId !== context.windowId || pane.paneId !== context.paneId) return true;
  if (pane.pid !== null && pane.pid !== context.pid) return true;
  return pane.server != null && pane.server.pid !== context.server?.pid;
}

/** The event a probe sends a session in `value` with `context`, `EXIT_PENDING`, or null (nothing to say). */
export function probeEvent(
  value: unknown,
  context: Pick<SessionContext, 'windowId' | 'paneId' | 'pid' | 'server' | 'error' | 'restartAt'>,
  view: ProbeView,
): SessionEvent | typeof EXIT_PENDING | null {
  const pane = view.owned.find((p) => p.paneId === context.paneId) ?? view.owned[0];
  if (isRunning(value)) {
    if (!pane) return { type: 'WINDOW_GONE' };
    // Dead but not reaped yet: its exit status comes with a later probe.
    if (pane.dead && pane.exitStatus === null) return EXIT_PENDING;
    if (pane.dead && !paneChanged(context, pane)) return { type: 'PANE_EXITED', exitStatus: pane.exitStatus! };
    return paneChanged(context, pane) ? { type: 'WINDOW_FOUND', window: windowSeen(pane) } : null;
  }
  if (isExited(value)) {
    if (!pane) return { type: 'WINDOW_GONE' };
    // Respawned by hand (a live program again), or the dead pane moved.
    if (!pane.dead || paneChanged(context, pane)) return { type: 'WINDOW_FOUND', window: windowSeen(pane) };
    // The restart policy's deadline has passed (the machine takes it only in `backoff`).
    const due = context.restartAt != null && view.now !== undefined && view.now >= context.restartAt;
    return due && !view.busyElsewhere ? { type: 'RESTART', at: view.now! } : null;
  }
  if (isOrphaned(value)) return pane ? { type: 'WINDOW_FOUND', window: windowSeen(pane) } : null;
  if (isEnding(value)) return context.error !== null && !view.busyElsewhere ? { type: 'RETRY' } : null;
  return null;
}

/** The window fields of a pane record (drops whatever else the probe carried). */
export function windowSeen(pane: WindowSeen): WindowSeen {
  return {
    windowId: pane.windowId,
    paneId: pane.paneId,
    pid: pane.pid,
    dead: pane.dead,
    exitStatus: pane.exitStatus,
    ...(pane.server ? { server: pane.server } : {}),
  };
}

/** What a probe (or a control client) knows of a running session's output, and its profile's quiet period. */
export interface ActivityView {
  /** When the session's pane last printed anything (ms since the epoch); null: not known. */
  lastOutputAt: number | null;
  /** The moment the probe saw it (ms since the epoch). */
  now: number;
  /** The profile's quiet period: no output for this long is quiet. */
  quietMs: number;
}

/** The probe says the session went quiet: the bottom of its screen decides what it is (`readScreen`). */
export const READ_SCREEN = 'read-screen' as const;

/**
 * The activity event a probe sends a running session, `READ_SCREEN` when it went quiet while
 * busy, or null. Output after the moment the activity was decided (`activity.outputAt`) means
 * busy again, and ends a signal's hold; a signal is otherwise never overruled by quiet.
 */
export function activityEvent(
  value: unknown,
  context: Pick<SessionContext, 'activity'>,
  view: ActivityView,
): SessionEvent | typeof READ_SCREEN | null {
  const activity = activityIn(value);
  if (activity === null) return null;
  const decided = context.activity ?? null;
  const heardBefore = decided?.outputAt ?? null;
  const newOutput = view.lastOutputAt !== null && heardBefore !== null && view.lastOutputAt > heardBefore;
  const at = new Date(view.now).toISOString();
  const signalled = decided?.source === 'signal';
  if (activity !== 'busy' || signalled) {
    return newOutput ? { type: 'OUTPUT', at, outputAt: view.lastOutputAt! } : null;
  }
  // Busy since `since`: quiet once neither that moment nor the last output is within the quiet period.
  const since = decided?.since ? Date.parse(decided.since) : Number.NaN;
  const lastSign = Math.max(view.lastOutputAt ?? 0, Number.isFinite(since) ? since : 0);
  return view.now - lastSign >= view.quietMs ? READ_SCREEN : null;
}

/** The QUIET event of a screen reading (`busy`: a paused spinner, nothing to send). */
export function quietEvent(
  reading: { activity: 'busy' | 'idle' | 'waiting'; source: 'pattern' | 'silence'; matched: string | null },
  view: Pick<ActivityView, 'lastOutputAt' | 'now'>,
): SessionEvent | null {
  if (reading.activity === 'busy') return null;
  return {
    type: 'QUIET',
    activity: reading.activity,
    source: reading.source,
    at: new Date(view.now).toISOString(),
    // Output up to now is accounted for: only output after this moment means busy again.
    outputAt: Math.max(view.lastOutputAt ?? 0, view.now - 1),
    matched: reading.matched,
  };
}

/**
 * Output within this long after a signal is the agent's own echo of it (a hook fires, then the
 * prompt is drawn), not work: it does not end the signal's hold. A second, since tmux's
 * `window_activity` says only which second the last output came in.
 */
export const SIGNAL_ECHO_MS = 1000;

/** The SIGNAL event of `warden signal KEY activity`, heard at `now` (ms since the epoch). */
export function signalEvent(activity: 'busy' | 'idle' | 'waiting', now: number): SessionEvent {
  return { type: 'SIGNAL', activity, at: new Date(now).toISOString(), outputAt: now + SIGNAL_ECHO_MS };
}
