/**
 * `warden doctor`: what is wrong with this installation, found without changing anything — tmux
 * and its version, the state file and its `.bak`, the lock, records that cannot be rehydrated,
 * orphaned sessions and tagged windows nobody has a record of. `repair` is the only thing here
 * that writes, and only when asked: it puts the last good `.bak` back.
 */
import { readFile } from 'node:fs/promises';
import { composeEngine } from './engine/create-engine.js';
import type { Engine } from './engine/engine.js';
import type { EngineOptions, SnapshotProblem } from './engine/types.js';
import { describeContents, strayWorktrees, type StrayWorktree } from './engine/workspaces.js';
import { describeLookalike, lookalikeWindows } from './engine/lookalikes.js';
import { WardenError } from './model/errors.js';
import { StateStore, defaultStatePath, parseStateDocument } from './store.js';
import { Tmux, type PaneRecord } from './tmux.js';
import { panesBySession } from './tmux/commands.js';
import { processArgv, processState } from './tmux/host.js';

/** The oldest tmux whose formats and options the engine relies on. */
export const MIN_TMUX_VERSION = '3.2';

export interface FileHealth {
  path: string;
  /** `absent`: no such file; `valid`: parses and validates; `invalid`: it does not (see `error`). */
  status: 'absent' | 'valid' | 'invalid';
  sessions: number | null;
  error: string | null;
}

export interface UntrackedWindow {
  windowId: string;
  windowName: string;
  sessionName: string;
  tag: string;
}

export interface DoctorReport {
  healthy: boolean;
  tmux: { found: boolean; version: string | null; supported: boolean; error: string | null };
  stateFile: FileHealth;
  backup: FileHealth;
  lock: { path: string; held: boolean; stale: boolean; ageMs: number | null; holderPid: number | null };
  snapshotProblems: SnapshotProblem[];
  /** Keys whose window is gone (recorded `orphaned`, or `active` with no window carrying the id). */
  orphaned: string[];
  /** Keys left `spawning`/`ending`: the next `warden ls` finishes them. */
  unfinished: string[];
  /** Windows carrying an `@warden_id` no record of this state file has. */
  untrackedWindows: UntrackedWindow[];
  /** Worktrees under a repository's `.worktrees/` that no session runs in (kept by an end, or left by a crash). */
  strayWorktrees: StrayWorktree[];
  /** Session ids carried by more than one window. */
  duplicateWindows: { sessionId: string; windowIds: string[] }[];
  /** One line per problem, each naming what to do. */
  problems: string[];
  /** What `--repair` restored, when asked. */
  repaired: { restoredFrom: string; keptAs: string | null; sessions: number } | null;
}

export interface DoctorOptions extends Pick<EngineOptions, 'stateFile' | 'socket' | 'tmuxBin' | 'probeTimeoutMs' | 'worktreeDir'> {
  repair?: boolean;
}

function versionAtLeast(version: string, minimum: string): boolean {
  const parse = (v: string) => (v.match(/(\d+)\.(\d+)/) ?? []).slice(1).map(Number);
  const [major = 0, minor = 0] = parse(version);
  const [minMajor = 0, minMinor = 0] = parse(minimum);
  return major > minMajor || (major === minMajor && minor >= minMinor);
}

async function fileHealth(path: string): Promise<FileHealth> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path, status: 'absent', sessions: null, error: null };
    return { path, status: 'invalid', sessions: null, error: `cannot read ${path}: ${(err as Error).message}` };
  }
  try {
    const document = parseStateDocument(text, path);
    return { path, status: 'valid', sessions: Object.keys(document.sessions).length, error: null };
  } catch (err) {
    return { path, status: 'invalid', sessions: null, error: err instanceof Error ? err.message : String(err) };
  }
}

async function tmuxHealth(tmux: Tmux): Promise<DoctorReport['tmux']> {
  try {
    const version = await tmux.version();
    return { found: true, version, supported: versionAtLeast(version, MIN_TMUX_VERSION), error: null };
  } catch (err) {
    const found = !(err instanceof WardenError && err.code === 'TMUX_NOT_FOUND');
    return { found, version: null, supported: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Windows carrying a warden tag (null when tmux does not answer). */
async function taggedWindowCount(tmux: Tmux, timeoutMs = 5000): Promise<number | null> {
  const probe = await tmux.probeAll({ timeoutMs });
  if (probe.kind === 'unknown') return null;
  return probe.kind === 'ok' ? new Set(probe.panes.filter((p) => p.tag).map((p) => p.windowId)).size : 0;
}

/**
 * Why tmux did not answer, in words a user can act on: a stopped server (SIGSTOP, a debugger),
 * a server that runs without its socket file, or a server that is simply too slow.
 */
function unansweredProbe(kind: string, message: string, recordedPids: number[], timeoutMs: number): string {
  if (kind === 'socket-gone') return `${message}; until then nothing is orphaned, ended or started`;
  const stopped = recordedPids.find((pid) => processState(pid) === 'T');
  if (stopped !== undefined) {
    return `tmux did not answer within ${timeoutMs} ms: its server ${stopped} is stopped: 'kill -CONT ${stopped}' resumes it (until then every state shown is the last recorded)`;
  }
  const server = recordedPids.length ? `server ${recordedPids.join(', ')}` : 'server';
  return `tmux did not answer within ${timeoutMs} ms (${message}): its ${server} is busy or hung: look at it with 'ps -o pid,stat,args -p PID', 'kill -CONT PID' if stopped`;
}

/** The `-e NAME=VALUE` arguments a tmux server's command line shows (names only), or null. */
function secretsInArgv(pid: number): string | null {
  const argv = processArgv(pid) ?? [];
  const names = argv.flatMap((arg, i) => (argv[i - 1] === '-e' && arg.includes('=') ? [arg.slice(0, arg.indexOf('='))] : []));
  return names.length ? `-e ${names.join(', -e ')}` : null;
}

/** Examines everything; writes nothing unless `repair` is set and the state file needs it. */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  // The same composition as every engine: the tmux and the store doctor examines are the engine's.
  const engine = composeEngine({ ...options, reconcileOnOpen: false });
  try {
    return await examine(engine, options);
  } finally {
    await engine.close();
  }
}

async function examine(engine: Engine, options: DoctorOptions): Promise<DoctorReport> {
  const { tmux, store } = engine;
  const problems: string[] = [];

  let repaired: DoctorReport['repaired'] = null;
  if (options.repair) repaired = await store.restoreBackup();

  const [tmuxReport, state, backup, lock] = await Promise.all([
    tmuxHealth(tmux),
    fileHealth(store.path),
    fileHealth(store.backupPath),
    store.lockInfo(),
  ]);
  if (!tmuxReport.found) problems.push(`tmux not found: install tmux >= ${MIN_TMUX_VERSION}`);
  else if (tmuxReport.error) problems.push(`tmux does not answer (${tmuxReport.error}): check the server and socket`);
  else if (!tmuxReport.supported) problems.push(`${tmuxReport.version} is too old: install tmux >= ${MIN_TMUX_VERSION}`);

  if (state.status === 'invalid') {
    const error = state.error ?? `state file ${state.path} is invalid`;
    problems.push(
      backup.status === 'valid'
        ? `${error} (${backup.path} holds ${backup.sessions} session(s))`
        : `${error}; but ${backup.path} is ${backup.status === 'absent' ? 'absent' : 'not valid either'}: fix the file by hand`,
    );
  } else if (state.status === 'absent' && backup.status === 'valid' && (backup.sessions ?? 0) > 0) {
    const tagged = tmuxReport.found && !tmuxReport.error ? await taggedWindowCount(tmux, options.probeTimeoutMs) : null;
    const windows = tagged ? `, and tmux holds ${tagged} window(s) tagged by warden that no record names` : '';
    problems.push(`state file ${state.path} is missing but ${backup.path} holds ${backup.sessions} session(s)${windows}: 'warden doctor --repair' restores it`);
  }
  if (backup.status === 'invalid') problems.push(`${backup.path} is not a valid state file: it cannot be used to repair; remove it`);

  const report: DoctorReport = {
    healthy: false,
    tmux: tmuxReport,
    stateFile: state,
    backup,
    lock: { path: store.lockPath, ...lock },
    snapshotProblems: [],
    orphaned: [],
    unfinished: [],
    untrackedWindows: [],
    strayWorktrees: [],
    duplicateWindows: [],
    problems,
    repaired,
  };

  // A missing file whose .bak holds sessions is not read as empty (invariant 12): repair first.
  const missing = state.status === 'absent' && backup.status === 'valid' && (backup.sessions ?? 0) > 0;
  if (state.status !== 'invalid' && !missing) await examineSessions(report, engine, options, tmuxReport.found && !tmuxReport.error);
  report.healthy = problems.length === 0;
  return report;
}

/** Worktrees the state file's repositories hold under their worktree directory with no session in them. */
async function examineWorktrees(report: DoctorReport, engine: Engine): Promise<void> {
  const document = await engine.store.load().catch(() => null);
  if (!document) return;
  report.strayWorktrees = await strayWorktrees(engine.workspaces, document);
  for (const w of report.strayWorktrees) {
    const whose = w.key ? ` (left by session ${w.key})` : '';
    const work = describeContents(w.contents);
    report.problems.push(
      work
        ? `worktree ${w.path}${whose} has no session and holds ${work}: commit and push it, then 'git -C ${w.repo} worktree remove ${w.path}'`
        : `worktree ${w.path}${whose} has no session and holds nothing unsaved: 'git -C ${w.repo} worktree remove ${w.path}' removes it`,
    );
  }
}

/** Compares the records with one probe of tmux, without dispatching anything to the sessions. */
async function examineSessions(report: DoctorReport, engine: Engine, options: DoctorOptions, tmuxUsable: boolean): Promise<void> {
  const tmux = engine.tmux;
  {
    await engine.open({ resume: false });
    report.snapshotProblems = engine.snapshotProblems();
    for (const problem of report.snapshotProblems) {
      report.problems.push(`session ${problem.key} cannot be loaded (${problem.message}): end it with a tmux-warden that can, or remove it from ${engine.stateFile}`);
    }
    const sessions = engine.list();
    await examineWorktrees(report, engine);
    report.unfinished = sessions.filter((s) => s.state === 'spawning' || s.state === 'ending').map((s) => s.key);
    if (!tmuxUsable) {
      report.orphaned = sessions.filter((s) => s.state === 'orphaned').map((s) => s.key);
      return;
    }
    const timeoutMs = options.probeTimeoutMs ?? 5000;
    const probe = await tmux.probeAll({ timeoutMs });
    if (probe.kind === 'unknown') {
      const recorded = [...new Set(sessions.map((s) => s.serverPid).filter((pid): pid is number => pid !== null))];
      report.problems.push(unansweredProbe(probe.error.kind, probe.error.message, recorded, timeoutMs));
      report.orphaned = sessions.filter((s) => s.state === 'orphaned').map((s) => s.key);
      return;
    }
    const panes: PaneRecord[] = probe.kind === 'ok' ? probe.panes : [];
    if (probe.kind === 'ok' && probe.server) {
      const leaked = secretsInArgv(probe.server.pid);
      if (leaked) {
        report.problems.push(
          `tmux server ${probe.server.pid} was started with environment values in its command line (${leaked}), readable by every local user with ps: ` +
            `end its sessions and restart it ('tmux kill-server'); this tmux-warden never starts it that way`,
        );
      }
    }
    const windowsById = new Map<string, Map<string, PaneRecord>>();
    for (const [sessionId, owned] of panesBySession(panes)) {
      windowsById.set(sessionId, new Map(owned.map((pane) => [pane.windowId, pane])));
    }
    // Every record's id counts, loadable or not: a window is untracked only if no record names it.
    const document = await engine.store.load();
    const known = new Set(
      Object.values(document.sessions)
        .map((record) => record.snapshot.context.sessionId)
        .filter((id): id is string => id !== null),
    );
    for (const s of sessions) {
      if (s.state === 'orphaned' || (s.state === 'active' && s.sessionId && !windowsById.has(s.sessionId))) {
        report.orphaned.push(s.key);
      }
    }
    const orphanedGroups = new Map(sessions.filter((s) => report.orphaned.includes(s.key)).map((s) => [s.key, s.group ?? engine.group]));
    for (const window of lookalikeWindows(orphanedGroups, panes)) report.problems.push(describeLookalike(window));
    for (const [sessionId, windows] of windowsById) {
      if (windows.size > 1) report.duplicateWindows.push({ sessionId, windowIds: [...windows.keys()] });
      if (known.has(sessionId)) continue;
      for (const pane of windows.values()) {
        report.untrackedWindows.push({ windowId: pane.windowId, windowName: pane.windowName, sessionName: pane.sessionName, tag: sessionId });
      }
    }
  }
  for (const s of engine.list()) {
    if (s.state !== 'active' || (s.exitStatus !== 126 && s.exitStatus !== 127)) continue;
    const why = s.exitStatus === 127 ? 'not found' : 'not executable';
    const said = s.lastOutput ? `: it said "${s.lastOutput.split('\n').at(-1)}"` : '';
    report.problems.push(
      `${s.key} exited with status ${s.exitStatus} (its program ${s.command[0] ?? ''} was ${why}${said}): fix the command and run 'warden spawn ${s.key} --mode fresh -- CMD'`,
    );
  }
  if (report.orphaned.length > 0) {
    report.problems.push(`${report.orphaned.length} orphaned session(s) (${report.orphaned.join(', ')}): 'warden spawn KEY --mode resume' relaunches one, 'warden end KEY' ends it`);
  }
  for (const w of report.untrackedWindows) {
    report.problems.push(`window ${w.windowId} (${w.sessionName}:${w.windowName}) carries session id ${w.tag} that ${report.stateFile.path} has no record of: kill it with 'tmux kill-window -t ${w.windowId}' if no other state file owns it`);
  }
  for (const d of report.duplicateWindows) {
    report.problems.push(`session id ${d.sessionId} is carried by ${d.windowIds.length} windows (${d.windowIds.join(', ')}): kill the extra ones`);
  }
}
