/**
 * What tmux's control-mode notifications mean for the watcher: which ones can change what a probe
 * of the group shows, and so wake the loop for a reconcile. Output, renames, layout and the like
 * change nothing a probe reports.
 */
import type { ControlNotification } from '../tmux/control.js';

const WAKING: ReadonlySet<ControlNotification['type']> = new Set<ControlNotification['type']>([
  'window-close',
  'unlinked-window-close',
  'window-add',
  'unlinked-window-add',
  'sessions-changed',
  // The pane-died hook's channel, and the control client going away (the server may have died).
  'pane-died',
  'detached',
]);

/** Whether `notification` can change what a probe of the group shows. */
export function wakesWatcher(notification: ControlNotification): boolean {
  return WAKING.has(notification.type);
}
