/** Moved to src/tmux/: the names this module always had, for the importers not yet moved. */
export { Tmux, type CallOptions, type LaunchWindowRequest, type ProbeResult, type TmuxOptions } from './tmux/commands.js';
export { literalArg, PANE_DIED_CHANNEL, parsePaneLine, TAG_OPTION, type PaneRecord, type WindowRef } from './tmux/formats.js';
export { TmuxError, type ControlClientProcess, type TmuxErrorKind, type TmuxSocket } from './tmux/transport.js';
