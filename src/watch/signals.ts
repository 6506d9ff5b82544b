/**
 * What tmux's control-mode notifications mean for the watcher: which ones can change what a probe
 * of the group shows, and so wake the loop for a reconcile; and which pane's output they report
 * (activity). Renames, layout and the like change nothing a probe reports.
 */
import type { ControlNotification } from '../tmux/control.js';

/** The subscription on every pane's `pane_dead`: a pane tmux marks dead without firing pane-died. */
export const PANE_DEAD_SUBSCRIPTION = 'warden-pane-dead';

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
  if (notification.type === 'subscription-changed') return notification.name === PANE_DEAD_SUBSCRIPTION;
  return WAKING.has(notification.type);
}

/**
 * The pane a notification reports output of, or null. Output is how activity is heard: it makes
 * an idle or waiting session busy, and moves a busy one's quiet deadline.
 */
export function outputPane(notification: ControlNotification): string | null {
  return notification.type === 'output' || notification.type === 'extended-output' ? notification.paneId : null;
}
