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
  /** The session's panes: those carrying its pane tag (or, made before pane tags, its window's). */
  owned: readonly WindowSeen[];
  /** A live process other than this one is carrying out the session's service. */
  busyElsewhere: boolean;
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
  context: Pick<SessionContext, 'windowId' | 'paneId' | 'pid' | 'server' | 'error'>,
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
    return !pane.dead || paneChanged(context, pane) ? { type: 'WINDOW_FOUND', window: windowSeen(pane) } : null;
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
