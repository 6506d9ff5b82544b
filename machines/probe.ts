/**
 * What one probe of tmux means for one session, as a machine event: pure, beside the machine, so
 * the engine never decides from a state string what a window's absence means.
 */
import type { SessionContext } from '../src/model/schema.js';
import { isEnding, isExited, isOrphaned, isRunning } from './paths.js';
import type { SessionEvent, WindowSeen } from './session.js';

/** A pane tmux shows dead whose exit status it does not know yet: a later probe brings it. */
export const EXIT_PENDING = 'exit-pending' as const;

/** What the probe saw of one session, and what the engine knows of who is working on it. */
export interface ProbeView {
  /** The panes carrying the session's tag (empty: none). */
  owned: readonly WindowSeen[];
  /** A live process other than this one is carrying out the session's service. */
  busyElsewhere: boolean;
}

/** The event a probe sends a session in `value` with `context`, `EXIT_PENDING`, or null (nothing to say). */
export function probeEvent(
  value: unknown,
  context: Pick<SessionContext, 'paneId' | 'error'>,
  view: ProbeView,
): SessionEvent | typeof EXIT_PENDING | null {
  const pane = view.owned.find((p) => p.paneId === context.paneId) ?? view.owned[0];
  if (isRunning(value)) {
    if (!pane) return { type: 'WINDOW_GONE' };
    // Dead but not reaped yet: its exit status comes with a later probe.
    if (pane.dead) return pane.exitStatus === null ? EXIT_PENDING : { type: 'PANE_EXITED', exitStatus: pane.exitStatus };
    return null;
  }
  if (isExited(value)) return pane ? null : { type: 'WINDOW_GONE' };
  if (isOrphaned(value)) return pane ? { type: 'WINDOW_FOUND', window: windowSeen(pane) } : null;
  if (isEnding(value)) return context.error !== null && !view.busyElsewhere ? { type: 'RETRY' } : null;
  return null;
}

/** The window fields of a pane record (drops whatever else the probe carried). */
export function windowSeen(pane: WindowSeen): WindowSeen {
  return { windowId: pane.windowId, paneId: pane.paneId, pid: pane.pid, dead: pane.dead, exitStatus: pane.exitStatus };
}
