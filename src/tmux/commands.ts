/**
 * One method per tmux operation, over a `TmuxTransport`: the only place a tmux argv is built.
 * Every call is one tmux process with a timeout and an optional AbortSignal; what tmux's stderr
 * means (no server, no such session) is decided here. Nothing in this module knows about XState.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerIdentity } from '../model/schema.js';
import {
  FIELD_SEP,
  literalArg,
  NOT_A_VIEW,
  PANE_DIED_CHANNEL,
  PANE_DIED_HOOK,
  PANE_FORMAT,
  PANE_TAG_NOBODY,
  PANE_TAG_OPTION,
  parsePaneLine,
  parseWindowRef,
  shellQuote,
  TAG_OPTION,
  VIEW_OPTION,
  WINDOW_REF_FORMAT,
  type PaneRecord,
  type WindowRef,
} from './formats.js';
import { setTimeout as delay } from 'node:timers/promises';
import { pathExists, processAlive, processEnded, processStartTime, zombieExitStatus } from './host.js';
import { withEnvFile } from './launch-env.js';
import {
  LocalTransport,
  socketArgs,
  TmuxError,
  type ControlClientProcess,
  type TmuxSocket,
  type TmuxTransport,
} from './transport.js';

export interface TmuxOptions {
  socket?: TmuxSocket | undefined;
  /** The tmux binary; `tmux` on PATH by default. */
  bin?: string | undefined;
  /** Timeout of one tmux process, in milliseconds. */
  timeoutMs?: number | undefined;
  /** How tmux is reached; a `LocalTransport` over `socket` and `bin` by default. */
  transport?: TmuxTransport | undefined;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /** See `RunOptions.killOnExit`. */
  killOnExit?: boolean | undefined;
}

/**
 * A probe is three-valued: the panes tmux showed (`ok`), no server at all (`no-server`: every
 * window is gone), or `unknown` (timeout, unexpected error): never a reason to orphan or clean.
 */
export type ProbeResult =
  /** `server`: the server that answered (null when it holds no pane). */
  | { kind: 'ok'; panes: PaneRecord[]; server: ServerIdentity | null }
  | { kind: 'no-server' }
  | { kind: 'unknown'; error: TmuxError };

export interface LaunchWindowRequest {
  group: string;
  /** The window's final name (the session key). */
  name: string;
  /** The session id: the tag, and the window's temporary name while it is being tagged. */
  sessionId: string;
  command: string[];
  cwd?: string | null | undefined;
  /** A file of the program's environment (see launch-env.ts): the values never enter an argv. */
  envFile?: string | undefined;
  /** argv of a process tmux pipes the pane's output to from its first byte (`pipe-pane -o`). */
  pipe?: string[] | null | undefined;
}

const NO_SERVER = /no server running|server exited unexpectedly/i;
const CONNECT_FAILED = /error connecting to (.+) \(/i;
const SOCKET_GONE = /\((No such file or directory|Connection refused)\)\s*$/;
const NO_SESSION = /can't find session|session not found|no current target/i;
const NO_SESSIONS_LEFT = /^no current target$/im;
const NO_WINDOW = /can't find window/i;
const NO_PANE = /can't find pane/i;
/** How often a launch goes between a group that is there and one that is not before it gives up. */
const GROUP_RACE_ROUNDS = 3;
/** How long a tmux server that lost its socket may take to exit before it counts as running on (invariant 9). */
const SERVER_EXIT_GRACE_MS = 500;

/** The argv a pane runs: the program, behind the env file's wrapper when there is one. */
function programArgv(command: readonly string[], envFile: string | undefined): string[] {
  return envFile ? withEnvFile(envFile, command) : [...command];
}

/**
 * A missing socket is a real answer (no server: every window is gone); any other failure to
 * connect (EAGAIN under load, EACCES, ELOOP, …) says nothing about the windows. tmux's strerror
 * text follows the locale: when it is not the C text, look at the socket itself.
 */
function socketMissing(stderr: string): boolean {
  const socket = CONNECT_FAILED.exec(stderr)?.[1];
  if (socket === undefined) return false;
  return SOCKET_GONE.test(stderr) || !pathExists(socket);
}

/**
 * The panes of each session: a pane is a session's when it carries the session's pane tag. A
 * pane reading `-` is someone else's in a window of ours; in a window made before panes were
 * tagged (no `@warden_pane` at all), every pane goes by the window's tag, as it always did.
 */
export function panesBySession(panes: readonly PaneRecord[]): Map<string, PaneRecord[]> {
  const bySession = new Map<string, PaneRecord[]>();
  for (const pane of panes) {
    const owner = pane.paneTag === PANE_TAG_NOBODY ? '' : pane.paneTag || pane.tag;
    if (!owner) continue;
    const list = bySession.get(owner) ?? [];
    list.push(pane);
    bySession.set(owner, list);
  }
  return bySession;
}

/** `pipe-pane`'s command, run by tmux through `sh -c`: the pipe's process replaces that shell. */
function pipeCommand(argv: readonly string[]): string {
  return literalArg(`exec ${shellQuote(argv)}`);
}

function windowRef(stdout: string): WindowRef {
  const ref = parseWindowRef(stdout);
  if (!ref) throw new TmuxError('failed', `tmux printed an unexpected window reference: ${JSON.stringify(stdout)}`);
  return ref;
}

export class Tmux {
  readonly transport: TmuxTransport;
  readonly timeoutMs: number;
  /** Number of tmux processes started, for benchmarks and tests. */
  calls = 0;
  /** The servers recorded as holding our windows (see `expectServers`). */
  private recordedServers: () => Iterable<ServerIdentity> = () => [];

  constructor(options: TmuxOptions = {}) {
    this.transport = options.transport ?? new LocalTransport({ socket: options.socket, bin: options.bin });
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  get bin(): string {
    return this.transport.bin;
  }

  get socket(): TmuxSocket | undefined {
    return this.transport.socket;
  }

  /** The argv prefix that selects our server: `-L name` / `-S path`. */
  socketArgs(): string[] {
    return socketArgs(this.socket);
  }

  /** Runs one tmux process and returns its stdout. Commands can be chained with a `;` argument. */
  async run(args: string[], options: CallOptions = {}): Promise<string> {
    this.calls++;
    const result = await this.transport.run(args, {
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      signal: options.signal,
      killOnExit: options.killOnExit,
    });
    if (result.exitCode === 0) return result.stdout;
    const stderr = result.stderr.trim();
    if (NO_SERVER.test(stderr) || socketMissing(stderr)) throw (await this.lostSocket(stderr)) ?? new TmuxError('no-server', 'no tmux server running', stderr);
    throw new TmuxError('failed', `tmux ${args[0] ?? ''} failed: ${stderr || `exit code ${result.exitCode}`}`, stderr);
  }

  /**
   * Invariant 9: tells the commands which servers the records say hold our windows. "No server"
   * on our socket while one of them still lives means the socket file was removed (a /tmp
   * cleaner): that is no answer (`socket-gone`), never "every window is gone", and never a
   * reason to start a second server.
   */
  expectServers(recorded: () => Iterable<ServerIdentity>): void {
    this.recordedServers = recorded;
  }

  /** The socket file this server is reached through (`-S path`, `-L name`, or tmux's default). */
  socketFile(): string {
    const socket = this.socket;
    if (socket && 'path' in socket) return socket.path;
    const uid = process.getuid?.() ?? 0;
    return join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, socket?.name ?? 'default');
  }

  /** The identity of server `pid`, reached through our socket. */
  serverIdentity(pid: number): ServerIdentity {
    const start = processStartTime(pid);
    return { pid, bootId: start?.bootId ?? null, startTicks: start?.startTicks ?? null, socket: this.socketFile() };
  }

  /**
   * A recorded server of our socket that still runs while the socket does not answer, as an
   * error. A server told to exit (`kill-server`, its last window closed) removes its socket a
   * moment before its process is gone: it is given that moment before it counts as running.
   */
  private async lostSocket(stderr: string): Promise<TmuxError | null> {
    const file = this.socketFile();
    for (const server of this.recordedServers()) {
      if (server.socket !== file) continue;
      const start = server.bootId !== null && server.startTicks !== null ? { bootId: server.bootId, startTicks: server.startTicks } : null;
      const running = () => processAlive(server.pid, start) && !processEnded(server.pid);
      for (let waited = 0; running() && waited < SERVER_EXIT_GRACE_MS; waited += 10) await delay(10);
      if (!running()) continue;
      return new TmuxError(
        'socket-gone',
        `the socket of tmux server ${server.pid} is gone (${file}): 'kill -USR1 ${server.pid}' restores it`,
        stderr,
      );
    }
    return null;
  }

  async version(options: CallOptions = {}): Promise<string> {
    return (await this.run(['-V'], options)).trim();
  }

  /** Every pane of the server in one tmux process. Throws TMUX_NOT_FOUND when there is no tmux binary. */
  async probeAll(options: CallOptions = {}): Promise<ProbeResult> {
    try {
      const stdout = await this.run(['list-panes', '-a', '-f', NOT_A_VIEW, '-F', PANE_FORMAT], options);
      const panes: PaneRecord[] = [];
      for (const line of stdout.split('\n')) {
        if (line === '') continue;
        const pane = parsePaneLine(line);
        if (!pane) continue;
        if (pane.dead && pane.exitStatus === null && pane.pid !== null) pane.exitStatus = zombieExitStatus(pane.pid);
        panes.push(pane);
      }
      const serverPid = panes.find((p) => p.serverPid !== null)?.serverPid ?? null;
      return { kind: 'ok', panes, server: serverPid === null ? null : this.serverIdentity(serverPid) };
    } catch (err) {
      if (err instanceof TmuxError && err.kind === 'no-server') return { kind: 'no-server' };
      // A server kept up (by an attached control client, or exit-empty off) with no session left
      // answers "no current target": a real answer, with no windows in it.
      if (err instanceof TmuxError && NO_SESSIONS_LEFT.test(err.stderr)) return { kind: 'ok', panes: [], server: null };
      // No tmux at all is not a transient answer: showing the last known states would be a lie.
      if (err instanceof TmuxError && err.kind !== 'not-found') return { kind: 'unknown', error: err };
      throw err;
    }
  }

  /** The panes of session `sessionId` (usually one; see `panesBySession`), or [] if none or no server. */
  async findOwned(sessionId: string, options: CallOptions = {}): Promise<PaneRecord[]> {
    const probe = await this.probeAll(options);
    if (probe.kind === 'unknown') throw probe.error;
    if (probe.kind === 'no-server') return [];
    return panesBySession(probe.panes).get(sessionId) ?? [];
  }

  /**
   * Creates a tagged window in one tmux process: created under the session id as a temporary,
   * unique name so the chained commands can target it exactly (a chained `set-option -w` without
   * `-t` would hit the client's current window), given `remain-on-exit` so an exit is observable,
   * tagged, then renamed to its key. The group session is created when absent (a second process).
   */
  async launchWindow(request: LaunchWindowRequest, options: CallOptions = {}): Promise<WindowRef> {
    const target = `=${request.group}:=${request.sessionId}`;
    const launchArgs = [
      '-n', request.sessionId,
      '-P', '-F', WINDOW_REF_FORMAT,
      ...(request.cwd ? ['-c', literalArg(request.cwd)] : []),
      '--', ...programArgv(request.command, request.envFile).map(literalArg),
    ];
    const tagArgs = [
      ';', 'set-option', '-w', '-t', target, 'remain-on-exit', 'on',
      ';', 'set-option', '-w', '-t', target, TAG_OPTION, request.sessionId,
      ';', 'set-option', '-w', '-t', target, PANE_TAG_OPTION, PANE_TAG_NOBODY,
      // The pane's own tag, exit behaviour and hook travel with it when it is moved or swapped.
      ';', 'set-option', '-p', '-t', target, PANE_TAG_OPTION, request.sessionId,
      ';', 'set-option', '-p', '-t', target, 'remain-on-exit', 'on',
      ';', 'set-hook', '-p', '-t', target, 'pane-died', PANE_DIED_HOOK,
      ';', 'set-hook', '-w', '-t', target, 'pane-died', PANE_DIED_HOOK,
      // In the same command list as the window, so no output comes before the pipe.
      ...(request.pipe ? [';', 'pipe-pane', '-o', '-t', target, pipeCommand(request.pipe)] : []),
      ';', 'rename-window', '-t', target, request.name,
    ];
    const intoGroup = ['new-window', '-d', '-t', `=${request.group}:`, ...launchArgs, ...tagArgs];
    const newGroup = ['new-session', '-d', '-s', request.group, '-x', '200', '-y', '50', ...launchArgs, ...tagArgs];
    // Other processes create the group (their first spawn) and remove it (ending its last window)
    // between our calls: each failure of one is what the other is for. Neither made a window.
    for (let round = 1; ; round++) {
      try {
        return windowRef(await this.run(intoGroup, options));
      } catch (err) {
        const missingGroup = err instanceof TmuxError && (err.kind === 'no-server' || NO_SESSION.test(err.stderr));
        if (!missingGroup || round > GROUP_RACE_ROUNDS) throw err;
      }
      try {
        return windowRef(await this.run(newGroup, options));
      } catch (err) {
        // Taken (duplicate), or the server exiting with the group's last window as we reached it.
        const raced = err instanceof TmuxError && (/duplicate session/i.test(err.stderr) || err.kind === 'no-server');
        if (!raced || round > GROUP_RACE_ROUNDS) throw err;
      }
    }
  }

  /** Restarts the program of a (dead) pane in place: same pane, same tags (the pane's given if it had none). */
  async respawnPane(
    paneId: string,
    command: string[],
    opts: { cwd?: string | null | undefined; envFile?: string | undefined; sessionId?: string | undefined; pipe?: string[] | null | undefined } = {},
    options: CallOptions = {},
  ): Promise<WindowRef> {
    const stdout = await this.run(
      [
        'respawn-pane', '-k', '-t', paneId,
        ...(opts.cwd ? ['-c', literalArg(opts.cwd)] : []),
        '--', ...programArgv(command, opts.envFile).map(literalArg),
        ...(opts.sessionId ? [';', 'set-option', '-p', '-t', paneId, PANE_TAG_OPTION, opts.sessionId] : []),
        // tmux keeps a pane's pipe across respawn-pane, and `-o` would close it: replace it.
        ...(opts.pipe ? [';', 'pipe-pane', '-t', paneId, pipeCommand(opts.pipe)] : []),
        ';', 'display-message', '-p', '-t', paneId, WINDOW_REF_FORMAT,
      ],
      options,
    );
    return windowRef(stdout);
  }

  /**
   * Kills the panes of session `sessionId`, and only those (invariant 10): a pane's window goes
   * with it only when no pane of anyone else is in it; otherwise only the pane is killed and the
   * window, now the user's alone, loses our tag. A pane or window with the same name but another
   * tag (or none) is never touched. Idempotent: no such pane, or no server, is success. Returns
   * the window ids killed. `keep` spares the panes in one window (the one a record names).
   */
  async killOwnedWindows(sessionId: string, options: CallOptions & { keep?: string } = {}): Promise<string[]> {
    if (!sessionId) return [];
    const killed: string[] = [];
    // tmux stops a command list at its first error: when one pane closed between the look and
    // the kill, the commands after it in the list did not run. Look again until none is left.
    for (let attempt = 0; attempt < 5; attempt++) {
      const probe = await this.probeAll(options);
      if (probe.kind === 'unknown') throw probe.error;
      if (probe.kind === 'no-server') return killed;
      const owned = (panesBySession(probe.panes).get(sessionId) ?? []).filter((p) => p.windowId !== options.keep);
      const ownedWindows = new Set(owned.map((p) => p.windowId));
      // A window of ours that holds only someone else's panes now (swapped in): no longer ours.
      const strays = [
        ...new Set(probe.panes.filter((p) => p.tag === sessionId && p.windowId !== options.keep && !ownedWindows.has(p.windowId)).map((p) => p.windowId)),
      ];
      if (owned.length === 0 && strays.length === 0) return killed;
      const args: string[] = strays.flatMap((id) => [';', 'set-option', '-w', '-u', '-t', id, TAG_OPTION]);
      const windows: string[] = [];
      for (const windowId of ownedWindows) {
        const others = probe.panes.filter((p) => p.windowId === windowId && !owned.includes(p));
        if (others.length === 0) {
          args.push(';', 'kill-window', '-t', windowId);
          windows.push(windowId);
          continue;
        }
        for (const pane of owned.filter((p) => p.windowId === windowId)) args.push(';', 'kill-pane', '-t', pane.paneId);
        if (others.some((p) => p.tag === sessionId)) args.push(';', 'set-option', '-w', '-u', '-t', windowId, TAG_OPTION);
      }
      try {
        await this.run(args.slice(1), options);
        return [...killed, ...windows];
      } catch (err) {
        if (err instanceof TmuxError && err.kind === 'no-server') return [...killed, ...windows];
        if (!(err instanceof TmuxError && (NO_WINDOW.test(err.stderr) || NO_PANE.test(err.stderr)))) throw err;
        killed.push(...windows);
      }
    }
    throw new TmuxError('failed', `panes of session ${sessionId} kept reappearing: could not kill them all`);
  }

  /**
   * Types text into a pane literally (`send-keys -l`, so key names in it are not interpreted).
   * Long or multi-line text goes through a uniquely named tmux buffer and `paste-buffer`.
   */
  async sendText(paneId: string, text: string, opts: { enter?: boolean } = {}, options: CallOptions = {}): Promise<void> {
    const enter = opts.enter ?? true;
    const enterArgs = enter ? [';', 'send-keys', '-t', paneId, 'Enter'] : [];
    if (text.length <= 512 && !/[\r\n]/.test(text)) {
      const typeArgs = text === '' ? [] : ['send-keys', '-t', paneId, '-l', '--', literalArg(text)];
      const args = typeArgs.length ? [...typeArgs, ...enterArgs] : enterArgs.slice(1);
      if (args.length) await this.run(args, options);
      return;
    }
    const buffer = `warden-${randomUUID()}`;
    await this.run(
      [
        'set-buffer', '-b', buffer, '--', literalArg(text),
        ';', 'paste-buffer', '-d', '-p', '-b', buffer, '-t', paneId,
        ...enterArgs,
      ],
      options,
    );
  }

  /**
   * Pastes text into a pane through a uniquely named buffer, as a bracketed paste when the
   * program asked for them (`paste-buffer -p`): a TUI then takes newlines in it as text, and an
   * Enter that follows as its own key.
   */
  async pasteText(paneId: string, text: string, options: CallOptions = {}): Promise<void> {
    if (text === '') return;
    const buffer = `warden-${randomUUID()}`;
    await this.run(['set-buffer', '-b', buffer, '--', literalArg(text), ';', 'paste-buffer', '-d', '-p', '-b', buffer, '-t', paneId], options);
  }

  /** The rows of a pane's visible screen (not joined) and the row its cursor is on, in one tmux process. */
  async screenRows(paneId: string, options: CallOptions = {}): Promise<{ rows: string[]; cursorRow: number }> {
    const stdout = await this.run(['capture-pane', '-p', '-t', paneId, ';', 'display-message', '-p', '-t', paneId, '#{cursor_y}'], options);
    const rows = stdout.replace(/\n$/, '').split('\n');
    const cursorRow = Number.parseInt(rows.pop() ?? '', 10);
    return { rows, cursorRow: Number.isFinite(cursorRow) ? cursorRow : rows.length - 1 };
  }

  /** Presses Enter in a pane. */
  async pressEnter(paneId: string, options: CallOptions = {}): Promise<void> {
    await this.run(['send-keys', '-t', paneId, 'Enter'], options);
  }

  /** The pane's visible screen plus up to `lines` lines of scrollback (`all` of it), as text. */
  async capturePane(paneId: string, opts: { lines?: number | 'all' } = {}, options: CallOptions = {}): Promise<string> {
    const from = opts.lines === 'all' ? '-' : String(-Math.max(0, opts.lines ?? 0));
    const start = opts.lines === undefined ? [] : ['-S', from];
    return this.run(['capture-pane', '-p', '-J', '-t', paneId, ...start], options);
  }

  /**
   * The visible screens of several panes in one tmux process, for reading quiet agents' prompts.
   * A pane gone meanwhile stops tmux's command list: then each is captured alone, and a pane
   * that cannot be captured is left out.
   */
  async captureScreens(paneIds: readonly string[], options: CallOptions = {}): Promise<Map<string, string>> {
    const screens = new Map<string, string>();
    if (paneIds.length === 0) return screens;
    const end = 'warden-screen-end';
    // A tmux command line has a size limit: 100 panes per process.
    for (let start = 0; start < paneIds.length; start += 100) {
      const chunk = paneIds.slice(start, start + 100);
      const args = chunk.flatMap((id, i) => [...(i ? [';'] : []), 'capture-pane', '-p', '-J', '-t', id, ';', 'display-message', '-p', end]);
      try {
        const parts = (await this.run(args, options)).split(`${end}\n`);
        chunk.forEach((id, i) => screens.set(id, parts[i] ?? ''));
      } catch (err) {
        if (!(err instanceof TmuxError) || err.kind === 'no-server') continue;
        for (const id of chunk) {
          const screen = await this.capturePane(id, {}, options).catch(() => null);
          if (screen !== null) screens.set(id, screen);
        }
      }
    }
    return screens;
  }

  /**
   * The command that shows a window to a person, in a view of their own: a new session grouped
   * with `group` (the same windows, but its own current window). Two terminals attaching two keys
   * each keep showing their own. `switch-client` when already inside tmux, `attach-session`
   * otherwise; returned as argv for the caller to run with its own terminal. One tmux call, which
   * tmux runs whole before any other: no one sees the view before it is shown.
   * Once no client shows it, `closeUnwatchedViews` kills it. (Not `destroy-unattached`: tmux 3.3a
   * crashes when it destroys one of two grouped sessions that way.)
   */
  attachCommand(group: string, windowId: string, insideTmux: boolean, client?: string | null): string[] {
    const view = `${group}-view-${randomUUID().slice(0, 8)}`;
    const target = `=${view}:`;
    // Name the client to switch: tmux's guess, the latest active client, may be someone else's.
    const show = insideTmux ? ['switch-client', ...(client ? ['-c', client] : []), '-t', target] : ['attach-session', '-t', target];
    return this.transport.commandLine([
      'new-session', '-d', '-t', `=${group}:`, '-s', view, ';',
      'set-option', '-t', target, VIEW_OPTION, '1', ';',
      'select-window', '-t', `${target}${windowId}`, ';',
      ...show,
    ]);
  }

  /** The client showing pane `paneId` (the most recently active one, if several), or null. */
  async clientShowing(paneId: string, options: CallOptions = {}): Promise<string | null> {
    const listed = await this.run(['list-clients', '-F', ['#{client_name}', '#{pane_id}', '#{client_activity}'].join(FIELD_SEP)], options);
    const showing = listed
      .split('\n')
      .map((line) => line.split(FIELD_SEP))
      .filter(([, pane]) => pane === paneId)
      .sort((a, b) => Number(b[2]) - Number(a[2]));
    return showing[0]?.[0] ?? null;
  }

  /**
   * Kills every view no client shows any more (detached, switched away from, or left by a killed
   * attach). A view made in the last `graceS` seconds is left alone: another attach may be
   * between making it and showing it.
   */
  async closeUnwatchedViews(options: CallOptions & { graceS?: number } = {}): Promise<void> {
    let listed: string;
    try {
      const fields = ['#{session_name}', `#{${VIEW_OPTION}}`, '#{session_attached}', '#{session_created}'];
      listed = await this.run(['list-sessions', '-F', fields.join(FIELD_SEP)], options);
    } catch (err) {
      if (err instanceof TmuxError && err.kind === 'no-server') return;
      throw err;
    }
    const before = Date.now() / 1000 - (options.graceS ?? 2);
    const unwatched = listed
      .split('\n')
      .map((line) => line.split(FIELD_SEP))
      .filter(([, view, attached, created]) => view === '1' && attached === '0' && Number(created) < before)
      .map(([name]) => name!);
    if (unwatched.length === 0) return;
    const args = unwatched.flatMap((name, i) => [...(i ? [';'] : []), 'kill-session', '-t', `=${name}:`]);
    await this.run(args, options).catch(() => undefined);
  }

  /**
   * Starts a control-mode client attached to `group` that receives notifications, the panes'
   * output included (how activity is heard), and has no say in window sizes. It lives until its
   * stdin is closed or it is killed.
   */
  controlClient(group: string, flags = 'ignore-size'): ControlClientProcess {
    this.calls++;
    return this.transport.open(['-C', 'attach-session', '-f', flags, '-t', `=${group}`]);
  }

  /**
   * Resolves when some window of ours signals that its pane died (blocks until then). If this
   * process dies without closing, the `tmux wait-for` lingers until the next pane death.
   */
  async waitForPaneDeath(options: CallOptions = {}): Promise<void> {
    await this.run(['wait-for', PANE_DIED_CHANNEL], { ...options, timeoutMs: 0, killOnExit: false });
  }

  /**
   * Wakes every watcher of this server (they wait on the pane-died channel) to look now: another
   * process changed something tmux cannot tell them about (a signal written to the state file).
   */
  async wakeWatchers(options: CallOptions = {}): Promise<void> {
    await this.run(['wait-for', '-S', PANE_DIED_CHANNEL], options);
  }

  /** Gives windows created before the hook existed the `pane-died` hook (one tmux process per 100). */
  async hookPaneDeaths(windowIds: string[], options: CallOptions = {}): Promise<void> {
    // A tmux command line has a size limit ("command too long"): 100 windows per process.
    for (let start = 0; start < windowIds.length; start += 100) {
      const chunk = windowIds.slice(start, start + 100);
      const args = chunk.flatMap((id, i) => [...(i ? [';'] : []), 'set-hook', '-w', '-t', id, 'pane-died', PANE_DIED_HOOK]);
      try {
        await this.run(args, options);
      } catch (err) {
        // A window closed in between has no pane left to die: nothing to hook.
        if (err instanceof TmuxError && (err.kind === 'no-server' || NO_WINDOW.test(err.stderr))) continue;
        throw err;
      }
    }
  }

  /** The path of the server's socket, as `$TMUX` names it inside its panes. */
  async socketPath(options: CallOptions = {}): Promise<string> {
    return (await this.run(['display-message', '-p', '#{socket_path}'], options)).trim();
  }

  /**
   * Kills the server of our socket and removes the socket file tmux leaves behind, so a private
   * server (tests, the demo, the bench) leaves nothing. Only for a socket given explicitly.
   */
  async killServer(options: CallOptions = {}): Promise<void> {
    try {
      await this.run(['kill-server'], options);
    } catch (err) {
      if (!(err instanceof TmuxError && err.kind === 'no-server')) throw err;
    }
    if (!this.socket) return;
    rmSync(this.socketFile(), { force: true });
  }
}

/** The domain name of `Tmux`: the tmux verbs the engine uses. */
export { Tmux as TmuxCommands };
