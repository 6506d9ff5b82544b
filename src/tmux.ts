/**
 * The one module that speaks tmux. Every call goes through `run()` over execa: argv (never a
 * shell), a timeout, an optional AbortSignal, `TMUX` removed from the environment, and an optional
 * socket so a server can be isolated. Format strings have a fixed field list and are parsed into
 * typed records here and nowhere else. Nothing in this module knows about XState.
 */
import { execa, ExecaError, type ResultPromise } from 'execa';
import { randomUUID } from 'node:crypto';
import { lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { WardenError } from './model/errors.js';
import { zombieExitStatus } from './proc.js';

/** `{ name }` is `tmux -L name`; `{ path }` is `tmux -S path`. */
export type TmuxSocket = { name: string } | { path: string };

export interface TmuxOptions {
  socket?: TmuxSocket | undefined;
  /** The tmux binary; `tmux` on PATH by default. */
  bin?: string | undefined;
  /** Timeout of one tmux process, in milliseconds. */
  timeoutMs?: number | undefined;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /**
   * Kill the tmux process if this one exits (execa's `cleanup`, default true). Long-lived
   * processes turn it off: execa's exit hook would otherwise re-raise a SIGTERM that the
   * application handles itself (`process.once('SIGTERM', …)`), killing it before it can close.
   */
  killOnExit?: boolean | undefined;
}

/** One pane as `list-panes -a` reports it. */
export interface PaneRecord {
  sessionName: string;
  windowId: string;
  windowName: string;
  /** The `@warden_id` tag of the window; empty when the window is not ours. */
  tag: string;
  paneId: string;
  pid: number | null;
  dead: boolean;
  exitStatus: number | null;
}

/**
 * A probe is three-valued: the panes tmux showed (`ok`), no server at all (`no-server`: every
 * window is gone), or `unknown` (timeout, unexpected error): never a reason to orphan or clean.
 */
export type ProbeResult =
  | { kind: 'ok'; panes: PaneRecord[] }
  | { kind: 'no-server' }
  | { kind: 'unknown'; error: TmuxError };

export interface WindowRef {
  windowId: string;
  paneId: string;
  pid: number | null;
}

export interface LaunchWindowRequest {
  group: string;
  /** The window's final name (the session key). */
  name: string;
  /** The session id: the tag, and the window's temporary name while it is being tagged. */
  sessionId: string;
  command: string[];
  cwd?: string | null | undefined;
  env?: Record<string, string> | undefined;
}

/** Why a tmux call failed: not installed, too slow, cancelled, no server, or anything else. */
export type TmuxErrorKind = 'not-found' | 'timeout' | 'aborted' | 'no-server' | 'failed';

/** A failed tmux call (`TMUX_FAILED`, or `TMUX_NOT_FOUND` when the binary is missing). */
export class TmuxError extends WardenError {
  override readonly name = 'TmuxError';
  readonly kind: TmuxErrorKind;
  constructor(kind: TmuxErrorKind, message: string, stderr = '') {
    super(kind === 'not-found' ? 'TMUX_NOT_FOUND' : 'TMUX_FAILED', message, { stderr });
    this.kind = kind;
  }
}

/** The tag every window the engine creates carries: ownership is decided by it alone. */
export const TAG_OPTION = '@warden_id';

/**
 * The `wait-for` channel our windows signal when their pane dies. tmux 3.3 has no control-mode
 * notification for a pane death, so each window we create carries a `pane-died` hook (a window
 * hook: never global, never on the user's windows) that wakes whoever waits on this channel.
 */
export const PANE_DIED_CHANNEL = 'warden-pane-died';
const PANE_DIED_HOOK = `wait-for -S ${PANE_DIED_CHANNEL}`;

/** A control-mode client (`tmux -C`) as a running process: lines of notifications on stdout. */
export type ControlClientProcess = ResultPromise<{ stdin: 'pipe'; stdout: 'pipe'; stderr: 'ignore'; buffer: false; reject: false; cleanup: false }>;

// Session names have control characters escaped by tmux, window names do not: the window name
// comes last so a unit separator inside it cannot shift the other fields.
const FIELD_SEP = '\x1f';
const PANE_FIELDS = [
  '#{session_name}',
  '#{window_id}',
  `#{${TAG_OPTION}}`,
  '#{pane_id}',
  '#{pane_pid}',
  '#{pane_dead}',
  '#{pane_dead_status}',
  '#{pane_dead_signal}',
  '#{window_name}',
] as const;
const PANE_FORMAT = PANE_FIELDS.join(FIELD_SEP);
const NEW_WINDOW_FORMAT = ['#{window_id}', '#{pane_id}', '#{pane_pid}'].join(FIELD_SEP);

const NO_SERVER = /no server running|server exited unexpectedly/i;
const CONNECT_FAILED = /error connecting to (.+) \(/i;

const SOCKET_GONE = /\((No such file or directory|Connection refused)\)\s*$/;

/**
 * A missing socket is a real answer (no server: every window is gone); any other failure to
 * connect (EAGAIN under load, EACCES, ELOOP, …) says nothing about the windows. tmux's strerror
 * text follows the locale: when it is not the C text, look at the socket itself.
 */
function socketMissing(stderr: string): boolean {
  const socket = CONNECT_FAILED.exec(stderr)?.[1];
  if (socket === undefined) return false;
  return SOCKET_GONE.test(stderr) || lstatSync(socket, { throwIfNoEntry: false }) === undefined;
}
const NO_SESSION = /can't find session|session not found|no current target/i;
const NO_SESSIONS_LEFT = /^no current target$/im;

function parseIntOrNull(text: string | undefined): number | null {
  if (text === undefined || text === '') return null;
  const n = Number.parseInt(text, 10);
  return Number.isFinite(n) ? n : null;
}

export function parsePaneLine(line: string): PaneRecord | null {
  const parts = line.split(FIELD_SEP);
  if (parts.length < PANE_FIELDS.length) return null;
  const [sessionName, windowId, tag, paneId, pid, dead, status, signal] = parts;
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
    paneId: paneId ?? '',
    pid: parseIntOrNull(pid),
    dead: dead === '1',
    exitStatus: dead === '1' ? exitStatus : null,
  };
}

function parseWindowRef(stdout: string): WindowRef {
  const [windowId, paneId, pid] = stdout.trim().split('\n')[0]!.split(FIELD_SEP);
  if (!windowId?.startsWith('@') || !paneId?.startsWith('%')) {
    throw new TmuxError('failed', `tmux printed an unexpected window reference: ${JSON.stringify(stdout)}`);
  }
  return { windowId, paneId, pid: parseIntOrNull(pid) };
}

/**
 * tmux reads an argument ending in `;` as "end of this command" (and `\;` as a literal `;`),
 * even after `--`: user data ending in `;` (`sh -c 'make;'`, text typed into a pane) would be cut
 * short or run as another command. Escaping the last `;` keeps it data.
 */
export function literalArg(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

/** An environment for tmux without `TMUX`/`TMUX_PANE`, so a client inside tmux still reaches our socket. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.TMUX;
  delete env.TMUX_PANE;
  return env;
}

export class Tmux {
  readonly bin: string;
  readonly socket: TmuxSocket | undefined;
  readonly timeoutMs: number;
  /** Number of tmux processes started, for benchmarks and tests. */
  calls = 0;

  constructor(options: TmuxOptions = {}) {
    this.bin = options.bin ?? 'tmux';
    this.socket = options.socket;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** The argv prefix that selects our server: `-L name` / `-S path`. */
  socketArgs(): string[] {
    if (!this.socket) return [];
    return 'name' in this.socket ? ['-L', this.socket.name] : ['-S', this.socket.path];
  }

  /** Runs one tmux process. Commands can be chained with a `;` argument. */
  async run(args: string[], options: CallOptions = {}): Promise<string> {
    this.calls++;
    try {
      const result = await execa(this.bin, [...this.socketArgs(), ...args], {
        env: childEnv(),
        extendEnv: false,
        timeout: options.timeoutMs ?? this.timeoutMs,
        cancelSignal: options.signal,
        cleanup: options.killOnExit ?? true,
        stdin: 'ignore',
        stripFinalNewline: false,
        encoding: 'utf8',
      });
      return result.stdout;
    } catch (err) {
      throw this.toTmuxError(err, args);
    }
  }

  private toTmuxError(err: unknown, args: string[]): TmuxError {
    if (!(err instanceof ExecaError)) {
      return new TmuxError('failed', `tmux ${args[0] ?? ''} failed: ${String(err)}`);
    }
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    if (err.code === 'ENOENT') {
      return new TmuxError('not-found', `tmux not found (${this.bin}): install tmux >= 3.2`);
    }
    if (err.timedOut) {
      return new TmuxError('timeout', `tmux ${args[0] ?? ''} timed out after ${this.timeoutMs} ms`, stderr);
    }
    if (err.isCanceled) return new TmuxError('aborted', `tmux ${args[0] ?? ''} was cancelled`, stderr);
    if (NO_SERVER.test(stderr) || socketMissing(stderr)) return new TmuxError('no-server', 'no tmux server running', stderr);
    return new TmuxError('failed', `tmux ${args[0] ?? ''} failed: ${stderr || err.shortMessage}`, stderr);
  }

  async version(options: CallOptions = {}): Promise<string> {
    return (await this.run(['-V'], options)).trim();
  }

  /** Every pane of the server in one tmux process. Throws TMUX_NOT_FOUND when there is no tmux binary. */
  async probeAll(options: CallOptions = {}): Promise<ProbeResult> {
    try {
      const stdout = await this.run(['list-panes', '-a', '-F', PANE_FORMAT], options);
      const panes: PaneRecord[] = [];
      for (const line of stdout.split('\n')) {
        if (line === '') continue;
        const pane = parsePaneLine(line);
        if (!pane) continue;
        if (pane.dead && pane.exitStatus === null && pane.pid !== null) pane.exitStatus = zombieExitStatus(pane.pid);
        panes.push(pane);
      }
      return { kind: 'ok', panes };
    } catch (err) {
      if (err instanceof TmuxError && err.kind === 'no-server') return { kind: 'no-server' };
      // A server kept up (by an attached control client, or exit-empty off) with no session left
      // answers "no current target": a real answer, with no windows in it.
      if (err instanceof TmuxError && NO_SESSIONS_LEFT.test(err.stderr)) return { kind: 'ok', panes: [] };
      // No tmux at all is not a transient answer: showing the last known states would be a lie.
      if (err instanceof TmuxError && err.kind !== 'not-found') return { kind: 'unknown', error: err };
      throw err;
    }
  }

  /** The panes of windows tagged with `sessionId` (usually one), or [] if none or no server. */
  async findOwned(sessionId: string, options: CallOptions = {}): Promise<PaneRecord[]> {
    const probe = await this.probeAll(options);
    if (probe.kind === 'unknown') throw probe.error;
    if (probe.kind === 'no-server') return [];
    return probe.panes.filter((p) => p.tag === sessionId);
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
      '-P', '-F', NEW_WINDOW_FORMAT,
      ...(request.cwd ? ['-c', literalArg(request.cwd)] : []),
      ...Object.entries(request.env ?? {}).flatMap(([k, v]) => ['-e', literalArg(`${k}=${v}`)]),
      '--', ...request.command.map(literalArg),
    ];
    const tagArgs = [
      ';', 'set-option', '-w', '-t', target, 'remain-on-exit', 'on',
      ';', 'set-option', '-w', '-t', target, TAG_OPTION, request.sessionId,
      ';', 'set-hook', '-w', '-t', target, 'pane-died', PANE_DIED_HOOK,
      ';', 'rename-window', '-t', target, request.name,
    ];
    try {
      return parseWindowRef(
        await this.run(['new-window', '-d', '-t', `=${request.group}:`, ...launchArgs, ...tagArgs], options),
      );
    } catch (err) {
      const missingGroup =
        err instanceof TmuxError && (err.kind === 'no-server' || NO_SESSION.test(err.stderr));
      if (!missingGroup) throw err;
    }
    try {
      return parseWindowRef(
        await this.run(['new-session', '-d', '-s', request.group, '-x', '200', '-y', '50', ...launchArgs, ...tagArgs], options),
      );
    } catch (err) {
      // Another process created the group between our two calls: the window goes into it.
      if (err instanceof TmuxError && /duplicate session/i.test(err.stderr)) {
        return parseWindowRef(
          await this.run(['new-window', '-d', '-t', `=${request.group}:`, ...launchArgs, ...tagArgs], options),
        );
      }
      throw err;
    }
  }

  /** Restarts the program of a (dead) pane in place: same window, same tag. */
  async respawnPane(
    paneId: string,
    command: string[],
    opts: { cwd?: string | null | undefined; env?: Record<string, string> | undefined } = {},
    options: CallOptions = {},
  ): Promise<WindowRef> {
    const stdout = await this.run(
      [
        'respawn-pane', '-k', '-t', paneId,
        ...(opts.cwd ? ['-c', literalArg(opts.cwd)] : []),
        ...Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['-e', literalArg(`${k}=${v}`)]),
        '--', ...command.map(literalArg),
        ';', 'display-message', '-p', '-t', paneId, NEW_WINDOW_FORMAT,
      ],
      options,
    );
    return parseWindowRef(stdout);
  }

  /**
   * Kills every window whose tag equals `sessionId`, and only those: a window with the same name
   * but another tag (or none) is never touched. Idempotent: no such window, or no server, is
   * success. Returns the window ids killed. Window ids are never reused by a tmux server, so the
   * window found is the window killed. `keep` spares one of them (the one a record names).
   */
  async killOwnedWindows(sessionId: string, options: CallOptions & { keep?: string } = {}): Promise<string[]> {
    if (!sessionId) return [];
    const killed: string[] = [];
    // tmux stops a command list at its first error: when one window closed between the look and
    // the kill, the windows after it in the list survive. Look again until none is left.
    for (let attempt = 0; attempt < 5; attempt++) {
      const owned = await this.findOwned(sessionId, options);
      const windowIds = [...new Set(owned.map((p) => p.windowId))].filter((id) => id !== options.keep);
      if (windowIds.length === 0) return killed;
      const args = windowIds.flatMap((id, i) => [...(i ? [';'] : []), 'kill-window', '-t', id]);
      try {
        await this.run(args, options);
        return [...killed, ...windowIds];
      } catch (err) {
        if (err instanceof TmuxError && err.kind === 'no-server') return [...killed, ...windowIds];
        if (!(err instanceof TmuxError && /can't find window/i.test(err.stderr))) throw err;
        killed.push(...windowIds);
      }
    }
    throw new TmuxError('failed', `windows tagged ${sessionId} kept reappearing: could not kill them all`);
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

  /** The pane's visible screen plus up to `lines` lines of scrollback, as text. */
  async capturePane(paneId: string, opts: { lines?: number } = {}, options: CallOptions = {}): Promise<string> {
    const start = opts.lines === undefined ? [] : ['-S', String(-Math.max(0, opts.lines))];
    return this.run(['capture-pane', '-p', '-J', '-t', paneId, ...start], options);
  }

  /**
   * The command that shows a window to a person: `switch-client` when already inside tmux,
   * `attach-session` otherwise. Returned as argv for the caller to run with its own terminal.
   */
  attachCommand(windowId: string, insideTmux: boolean): string[] {
    const show = ['select-window', '-t', windowId, ';'];
    return insideTmux
      ? [this.bin, ...this.socketArgs(), ...show, 'switch-client', '-t', windowId]
      : [this.bin, ...this.socketArgs(), ...show, 'attach-session', '-t', windowId];
  }

  /**
   * Starts a control-mode client attached to `group` that receives notifications only (no pane
   * output, no say in window sizes). It lives until its stdin is closed or it is killed.
   */
  controlClient(group: string): ControlClientProcess {
    this.calls++;
    return execa(this.bin, [...this.socketArgs(), '-C', 'attach-session', '-f', 'no-output,ignore-size', '-t', `=${group}`], {
      env: childEnv(),
      extendEnv: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'ignore',
      buffer: false,
      reject: false,
      // It exits by itself when our end of its stdin closes, so no exit hook (see CallOptions.killOnExit).
      cleanup: false,
    });
  }

  /**
   * Resolves when some window of ours signals that its pane died (blocks until then). If this
   * process dies without closing, the `tmux wait-for` lingers until the next pane death.
   */
  async waitForPaneDeath(options: CallOptions = {}): Promise<void> {
    await this.run(['wait-for', PANE_DIED_CHANNEL], { ...options, timeoutMs: 0, killOnExit: false });
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
        if (err instanceof TmuxError && (err.kind === 'no-server' || /can't find window/i.test(err.stderr))) continue;
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
    const uid = process.getuid?.() ?? 0;
    const file = 'path' in this.socket ? this.socket.path : join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, this.socket.name);
    rmSync(file, { force: true });
  }
}
