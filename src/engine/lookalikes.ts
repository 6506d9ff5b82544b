/**
 * Windows that look like a session's and are not: untagged, in the session's tmux session, named
 * like a session that is orphaned. tmux-resurrect restores warden's windows that way (names kept,
 * tags lost, a plain shell inside); a resume would add a second window of that name beside it.
 * They are pointed out, never touched (DESIGN: living beside tmux-resurrect).
 */
import type { PaneRecord } from '../tmux/formats.js';

export interface Lookalike {
  /** The orphaned session the window is named like. */
  key: string;
  windowId: string;
  /** The tmux session holding it. */
  sessionName: string;
}

/** `orphaned`: the orphaned sessions as key → the tmux session (group) their window belonged to. */
export function lookalikeWindows(orphaned: ReadonlyMap<string, string>, panes: readonly PaneRecord[]): Lookalike[] {
  const found = new Map<string, Lookalike>();
  for (const pane of panes) {
    if (pane.tag !== '' || found.has(pane.windowId)) continue;
    if (orphaned.get(pane.windowName) !== pane.sessionName) continue;
    found.set(pane.windowId, { key: pane.windowName, windowId: pane.windowId, sessionName: pane.sessionName });
  }
  return [...found.values()].sort((a, b) => a.key.localeCompare(b.key) || a.windowId.localeCompare(b.windowId));
}

/** One line for a person: what the window is, what it is not, and what to do. */
export function describeLookalike(w: Lookalike): string {
  return (
    `window ${w.windowId} "${w.key}" in tmux session ${w.sessionName} has no warden tag (tmux-resurrect restores windows that way): ` +
    `it is not session ${w.key}, which stays orphaned, and warden leaves it alone (a resume of ${w.key} adds warden's own window beside it): ` +
    `close it if you do not need it, and run warden on its own socket (--socket) so resurrect never sees its windows`
  );
}
