/** Moved to src/tmux/host.ts: the names this module always had, for the importers not yet moved. */
export { processAlive, processEnded, zombieExitStatus } from './tmux/host.js';
