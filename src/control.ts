/** Moved to src/tmux/control.ts: the names this module always had, for the importers not yet moved. */
export { changeOf, TmuxEvents } from './tmux/control.js';
