/**
 * What tmux prints and what it is given, in one place: the format strings (a fixed field list
 * and delimiter) and their parsers into typed records, the escaping of user data in a tmux argv,
 * and the one shell-quoting function.
 */

/** The tag every window the engine creates carries: ownership is decided by it alone. */
export const TAG_OPTION = '@warden_id';
/**
 * The tag of the session's own pane (a pane option). A name of its own, not `@warden_id` again:
 * a pane's `#{@warden_id}` falls back to its window's, so a user's pane in a tagged window (split,
 * swapped in) would read as ours. The pane tag moves with the pane (`swap-pane`, `move-pane`).
 */
export const PANE_TAG_OPTION = '@warden_pane';
/**
 * The value of `@warden_pane` on the window itself: "this window tags its panes". A pane without
 * a tag of its own reads its window's value, so a user's pane in our window reads this (nobody's),
 * while a pane of a window made before pane tags reads nothing and goes by the window's tag.
 */
export const PANE_TAG_NOBODY = '-';

/**
 * The session option marking a view: a session grouped with a group, made for one attaching
 * client (see `attachCommand`). It shows the group's windows, so a probe skips it (NOT_A_VIEW)
 * and lists each pane once.
 */
export const VIEW_OPTION = '@warden_view';
export const NOT_A_VIEW = `#{?${VIEW_OPTION},0,1}`;

/**
 * The `wait-for` channel our windows signal when their pane dies. tmux 3.3 has no control-mode
 * notification for a pane death, so each window we create carries a `pane-died` hook (a window
 * hook: never global, never on the user's windows) that wakes whoever waits on this channel.
 */
export const PANE_DIED_CHANNEL = 'warden-pane-died';
/** The command our windows' `pane-died` hook runs. */
export const PANE_DIED_HOOK = `wait-for -S ${PANE_DIED_CHANNEL}`;

/** One pane as `list-panes -a` reports it. */
export interface PaneRecord {
  sessionName: string;
  windowId: string;
  windowName: string;
  /** The `@warden_id` tag of the window; empty when the window is not ours. */
  tag: string;
  /**
   * The `@warden_pane` tag of the pane: the session it runs; `-` (PANE_TAG_NOBODY) for another
   * pane in a window of ours; empty in a window made before panes were tagged.
   */
  paneTag: string;
  paneId: string;
  pid: number | null;
  dead: boolean;
  exitStatus: number | null;
  /** When the window last printed anything (tmux's `window_activity`, in ms; whole seconds). */
  activityAt: number | null;
  /** The pid of the tmux server that answered. */
  serverPid: number | null;
}

export interface WindowRef {
  windowId: string;
  paneId: string;
  pid: number | null;
  /** The pid of the tmux server that holds the window. */
  serverPid: number | null;
}

// Session names have control characters escaped by tmux, window names do not: the window name
// comes last so a unit separator inside it cannot shift the other fields.
export const FIELD_SEP = '\x1f';
const PANE_FIELDS = [
  '#{session_name}',
  '#{window_id}',
  `#{${TAG_OPTION}}`,
  '#{pane_id}',
  '#{pane_pid}',
  '#{pane_dead}',
  '#{pane_dead_status}',
  '#{pane_dead_signal}',
  `#{${PANE_TAG_OPTION}}`,
  '#{pid}',
  '#{window_activity}',
  '#{window_name}',
] as const;
export const PANE_FORMAT = PANE_FIELDS.join(FIELD_SEP);
export const WINDOW_REF_FORMAT = ['#{window_id}', '#{pane_id}', '#{pane_pid}', '#{pid}'].join(FIELD_SEP);

function parseIntOrNull(text: string | undefined): number | null {
  if (text === undefined || text === '') return null;
  const n = Number.parseInt(text, 10);
  return Number.isFinite(n) ? n : null;
}

/** A tmux time (seconds since the epoch) in milliseconds. */
function seconds(text: string | undefined): number | null {
  const n = parseIntOrNull(text);
  return n === null ? null : n * 1000;
}

export function parsePaneLine(line: string): PaneRecord | null {
  const parts = line.split(FIELD_SEP);
  if (parts.length < PANE_FIELDS.length) return null;
  const [sessionName, windowId, tag, paneId, pid, dead, status, signal, paneTag, serverPid, activity] = parts;
  // A program killed by a signal has no exit status; report it as a shell would (128 + signal).
  // tmux marks a pane dead when its output closes, which can come before the process is reaped:
  // until then neither is known and `exitStatus` stays null.
  const bySignal = parseIntOrNull(signal);
  const exitStatus = parseIntOrNull(status) ?? (bySignal === null ? null : 128 + bySignal);
  return {
    sessionName: sessionName ?? '',
    windowId: windowId ?? '',
    windowName: parts.slice(PANE_FIELDS.length - 1).join(FIELD_SEP),
    tag: tag ?? '',
    paneTag: paneTag ?? '',
    paneId: paneId ?? '',
    pid: parseIntOrNull(pid),
    dead: dead === '1',
    exitStatus: dead === '1' ? exitStatus : null,
    activityAt: seconds(activity),
    serverPid: parseIntOrNull(serverPid),
  };
}

/** The first line of `WINDOW_REF_FORMAT` output, or null when it does not name a window and pane. */
export function parseWindowRef(stdout: string): WindowRef | null {
  const [windowId, paneId, pid, serverPid] = stdout.trim().split('\n')[0]!.split(FIELD_SEP);
  if (!windowId?.startsWith('@') || !paneId?.startsWith('%')) return null;
  return { windowId, paneId, pid: parseIntOrNull(pid), serverPid: parseIntOrNull(serverPid) };
}

/**
 * tmux reads an argument ending in `;` as "end of this command" (and `\;` as a literal `;`),
 * even after `--`: user data ending in `;` (`sh -c 'make;'`, text typed into a pane) would be cut
 * short or run as another command. Escaping the last `;` keeps it data.
 */
export function literalArg(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

/** `-e NAME=VALUE` for each variable, for `new-window` / `respawn-pane`. */
export function envArgs(env: Record<string, string> | undefined): string[] {
  return Object.entries(env ?? {}).flatMap(([k, v]) => ['-e', literalArg(`${k}=${v}`)]);
}

/**
 * An argv as one POSIX shell word list: each argument in single quotes unless it is plainly
 * safe, for the places tmux or a remote host hand a command to `sh -c` (pipe-pane, ssh).
 */
export { shellQuote } from '../model/shell.js';
