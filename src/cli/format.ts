/**
 * How sessions look to a person: tables, ages, colours. Colour only on a terminal, never when
 * piped or when `NO_COLOR` is set (`FORCE_COLOR` forces it, as most tools agree).
 */
import { createColors } from 'picocolors';
import type { ActivityExplanation, TransitionEvent } from '../engine.js';
import { age } from '../model/age.js';
import type { HistoryEntry, SessionInfo } from '../model/schema.js';
import { shellQuote } from '../model/shell.js';

type Colors = ReturnType<typeof createColors>;

export function colorsFor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): Colors {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  const enabled = !env.NO_COLOR && (forced || (stream.isTTY === true && env.TERM !== 'dumb'));
  return createColors(enabled);
}


/** The state as a person reads it: an exited pane is `exited`, not just `active`. */
export function stateLabel(info: Pick<SessionInfo, 'state' | 'exitStatus'>): string {
  return info.state === 'active' ? (info.exitStatus === null ? 'running' : 'exited') : info.state;
}

function paintState(c: Colors, label: string): string {
  switch (label.replace(/\?$/, '')) {
    case 'running':
      return c.green(label);
    case 'exited':
      return c.yellow(label);
    case 'orphaned':
      return c.red(label);
    default:
      return c.cyan(label);
  }
}

/** Without a terminal to fit, a command is cut at this many characters (`--json` has it whole). */
export const COMMAND_CHARS = 200;

/** A command as a shell line that can be pasted back, cut to `max` characters with `…`. */
export function commandText(command: readonly string[], max = Infinity): string {
  const line = shellQuote(command);
  return line.length <= max ? line : `${line.slice(0, Math.max(1, max - 1))}…`;
}

/** How wide a table may be: the terminal's width on a terminal, otherwise no limit but COMMAND_CHARS. */
export function tableWidth(stream: NodeJS.WriteStream = process.stdout): number | undefined {
  return stream.isTTY && stream.columns ? stream.columns : undefined;
}

/**
 * Columns padded to their widest cell; the last column (a command) is never padded, and is cut to
 * what is left of `width` (at least 20 characters), or to COMMAND_CHARS. Colour after padding.
 */
function table(
  header: string[],
  rows: string[][],
  paint: (row: number, col: number, cell: string) => string,
  width?: number,
): string {
  const last = header.length - 1;
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length)));
  const used = widths.slice(0, last).reduce((sum, w) => sum + w + 2, 0);
  const room = width === undefined ? COMMAND_CHARS : Math.max(20, width - used);
  const all = [header, ...rows.map((r) => r.map((cell, i) => (i === last && cell.length > room ? `${cell.slice(0, room - 1)}…` : cell)))];
  return all
    .map((row, r) =>
      row
        .map((cell, i) => paint(r - 1, i, i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

/** `waiting 3m`: the activity and how long it has lasted; `-` unless running. */
export function activityLabel(info: Pick<SessionInfo, 'activity' | 'activitySince'>, now = Date.now()): string {
  if (info.activity === null) return '-';
  return info.activitySince ? `${info.activity} ${age(info.activitySince, now)}` : info.activity;
}

function paintActivity(c: Colors, label: string): string {
  if (label.startsWith('waiting')) return c.yellow(label);
  if (label.startsWith('busy')) return c.green(label);
  return c.dim(label);
}

/**
 * The session table of `ls`; a BRANCH column (before COMMAND) when any session runs in a worktree.
 * `confirmed: false`: tmux did not answer, each state is the last recorded one and shows a `?`.
 */
export function sessionTable(sessions: SessionInfo[], c: Colors, now = Date.now(), width = tableWidth(), confirmed = true): string {
  const branches = sessions.some((s) => s.worktree !== null);
  const header = ['KEY', 'STATE', 'ACTIVITY', 'AGE', 'WINDOW', 'PID', 'EXIT', ...(branches ? ['BRANCH'] : []), 'COMMAND'];
  const rows = sessions.map((s) => [
    s.key,
    confirmed ? stateLabel(s) : `${stateLabel(s)}?`,
    activityLabel(s, now),
    age(s.createdAt, now),
    s.windowId ?? '-',
    s.pid === null ? '-' : String(s.pid),
    s.exitStatus === null ? '-' : String(s.exitStatus),
    ...(branches ? [s.worktree?.branch ?? '-'] : []),
    commandText(s.command),
  ]);
  return table(
    header,
    rows,
    (row, col, cell) => {
      if (row < 0) return c.bold(cell);
      if (col === 0) return c.bold(cell);
      if (col === 1) return paintState(c, cell);
      if (col === 2) return paintActivity(c, cell);
      if (col === 6 && sessions[row]!.exitStatus) return c.red(cell);
      return col === header.length - 1 ? cell : c.dim(cell);
    },
    width,
  );
}

export function historyTable(entries: HistoryEntry[], c: Colors, width = tableWidth()): string {
  const header = ['ENDED', 'KEY', 'REASON', 'EXIT', 'SESSION', 'COMMAND'];
  const rows = entries.map((h) => [
    h.endedAt,
    h.key,
    h.reason,
    h.exitStatus === null ? '-' : String(h.exitStatus),
    h.sessionId,
    commandText(h.command),
  ]);
  return table(header, rows, (row, col, cell) => (row < 0 || col === 1 ? c.bold(cell) : col === 5 ? cell : c.dim(cell)), width);
}

/** One session as `key: value` lines, for `status`. */
export function sessionDetails(info: SessionInfo, c: Colors, now = Date.now()): string {
  const labels = Object.entries(info.labels).map(([k, v]) => `${k}=${v}`).join(' ');
  const lines: [string, string][] = [
    ['key', c.bold(info.key)],
    ['state', paintState(c, stateLabel(info)) + (info.exitStatus === null ? '' : ` (exit status ${info.exitStatus})`)],
    ['activity', info.activity === null ? '-' : `${paintActivity(c, activityLabel(info, now))} (${info.activitySource})`],
    ...(info.lastOutput ? ([['output', info.lastOutput.split('\n').join(`\n${' '.repeat(12)}`)]] as [string, string][]) : []),
    ['session id', info.sessionId ?? '-'],
    ['group', info.group ?? '-'],
    ['window', info.windowId ?? '-'],
    ['pane', info.paneId ?? '-'],
    ['pid', info.pid === null ? '-' : String(info.pid)],
    ['command', commandText(info.command)],
    ['ran', info.lastCommand ? commandText(info.lastCommand) : '-'],
    ['cwd', info.cwd ?? '-'],
    ...(info.worktree ? ([['worktree', worktreeLine(info.worktree)]] as [string, string][]) : []),
    ['labels', labels || '-'],
    ['restart', restartLine(info)],
    ['created', info.createdAt ? `${info.createdAt} (${age(info.createdAt, now)} ago)` : '-'],
    ['updated', info.updatedAt ?? '-'],
    ['log', info.logFile ?? '-'],
    ...(info.serverPid === null ? [] : ([['server', `tmux pid ${info.serverPid}`]] as [string, string][])),
  ];
  return lines.map(([name, value]) => `${c.dim(name.padEnd(10))}  ${value}`).join('\n').concat('\n');
}

/** `on-failure, 2 of 5 restarts, next at …`, `on-failure, gave up after 5 restarts`, or `no`. */
function restartLine(info: SessionInfo): string {
  const policy = info.restartPolicy;
  if (!policy) return 'no';
  const count = `${info.restarts} of ${policy.maxRestarts} restarts`;
  if (info.restartAt) return `${policy.policy}, ${count}, next at ${info.restartAt}`;
  const gaveUp = info.exitStatus !== null && policy.policy !== 'no' && info.restarts >= policy.maxRestarts;
  return gaveUp ? `${policy.policy}, gave up after ${info.restarts} restarts` : `${policy.policy}, ${count}`;
}

/** `status --explain`: which source decided the activity, when, and what it saw. */
export function explanationText(e: ActivityExplanation, c: Colors, now = Date.now()): string {
  const when = e.since ? `since ${e.since} (${age(e.since, now)} ago)` : 'since it started';
  const how: Record<ActivityExplanation['source'], string> = {
    signal: `the agent's own hook said so (${e.matched ?? 'warden signal'}); it holds until new output`,
    pattern: `its screen matched the ${e.profile} profile: ${JSON.stringify(e.matched)}`,
    silence:
      e.activity === 'busy'
        ? `output was seen; quiet after ${e.quietMs / 1000}s decides again`
        : `no output for ${e.quietMs / 1000}s and ${e.profile ? `no pattern of the ${e.profile} profile matched` : 'no profile fits its command'}`,
  };
  return `${c.dim('explain'.padEnd(10))}  ${e.activity} ${when}: ${how[e.source]}\n`;
}

/** `PATH (branch B from BASE, made by warden)`: the worktree as `status` shows it. */
function worktreeLine(w: NonNullable<SessionInfo['worktree']>): string {
  return `${w.path} (branch ${w.branch} from ${w.base}, ${w.created ? 'made by warden' : 'already there: never removed by warden'})`;
}

/** One short line about a session, for `spawn` and `end`. */
export function sessionLine(info: SessionInfo, c: Colors): string {
  const where = info.windowId ? ` window ${info.windowId}` : '';
  const pid = info.pid !== null ? ` pid ${info.pid}` : '';
  return `${c.bold(info.key)}: ${paintState(c, stateLabel(info))}${where}${pid}  ${commandText(info.command, COMMAND_CHARS)}\n`;
}

/** `api-fix: running, waiting 3s`: where a session stands, for `wait`. */
export function standingLine(info: SessionInfo, c: Colors, now = Date.now()): string {
  const activity = info.activity === null ? '' : `, ${paintActivity(c, activityLabel(info, now))}`;
  return `${c.bold(info.key)}: ${paintState(c, stateLabel(info))}${activity}\n`;
}

/** One transition as `watch` prints it. */
export function transitionLine(t: TransitionEvent, c: Colors): string {
  const exit = t.session.exitStatus === null ? '' : ` exit status ${t.session.exitStatus}`;
  const cause = t.origin === 'elsewhere' ? 'by another process' : t.event;
  return `${c.dim(t.at)}  ${c.bold(t.key)}  ${t.from} → ${t.to}  ${c.dim(`(${cause})`)}${exit}\n`;
}
