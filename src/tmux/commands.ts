/**
 * One method per tmux operation, over a `TmuxTransport`: the only place a tmux argv is built.
 * Every call is one tmux process with a timeout and an optional AbortSignal; what tmux's stderr
 * means (no server, no such session) is decided here. Nothing in this module knows about XState.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  envArgs,
  literalArg,
  PANE_DIED_CHANNEL,
  PANE_DIED_HOOK,
  PANE_FORMAT,
  parsePaneLine,
  parseWindowRef,
  shellQuote,
  TAG_OPTION,
  WINDOW_REF_FORMAT,
  type PaneRecord,
  type WindowRef,
} from './formats.js';
import { pathExists, zombieExitStatus } from './host.js';
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
  | { kind: 'ok'; panes: PaneRecord[] }
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
  env?: Record<string, string> | undefined;
  /** argv of a process tmux pipes the pane's output to from its first byte (`pipe-pane -o`). */
  pipe?: string[] | null | undefined;
}

const NO_SERVER = /no server running|server exited unexpectedly/i;
const CONNECT_FAILED = /error connecting to (.+) \(/i;
const SOCKET_GONE = /\((No such file or directory|Connection refused)\)\s*$/;
const NO_SESSION = /can't find session|session not found|no current target/i;
const NO_SESSIONS_LEFT = /^no current target$/im;
const NO_WINDOW = /can't find window/i;

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
    if (NO_SERVER.test(stderr) || socketMissing(stderr)) throw new TmuxError('no-server', 'no tmux server running', stderr);
    throw new TmuxError('failed', `tmux ${args[0] ?? ''} failed: ${stderr || `exit code ${result.exitCode}`}`, stderr);
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
      '-P', '-F', WINDOW_REF_FORMAT,
      ...(request.cwd ? ['-c', literalArg(request.cwd)] : []),
      ...envArgs(request.env),
      '--', ...request.command.map(literalArg),
    ];
    const tagArgs = [
      ';', 'set-option', '-w', '-t', target, 'remain-on-exit', 'on',
      ';', 'set-option', '-w', '-t', target, TAG_OPTION, request.sessionId,
      ';', 'set-hook', '-w', '-t', target, 'pane-died', PANE_DIED_HOOK,
      // In the same command list as the window, so no output comes before the pipe.
      ...(request.pipe ? [';', 'pipe-pane', '-o', '-t', target, pipeCommand(request.pipe)] : []),
      ';', 'rename-window', '-t', target, request.name,
    ];
    const intoGroup = ['new-window', '-d', '-t', `=${request.group}:`, ...launchArgs, ...tagArgs];
    try {
      return windowRef(await this.run(intoGroup, options));
    } catch (err) {
      const missingGroup =
        err instanceof TmuxError && (err.kind === 'no-server' || NO_SESSION.test(err.stderr));
      if (!missingGroup) throw err;
    }
    try {
      return windowRef(
        await this.run(['new-session', '-d', '-s', request.group, '-x', '200', '-y', '50', ...launchArgs, ...tagArgs], options),
      );
    } catch (err) {
      // Another process created the group between our two calls: the window goes into it.
      if (err instanceof TmuxError && /duplicate session/i.test(err.stderr)) return windowRef(await this.run(intoGroup, options));
      throw err;
    }
  }

  /** Restarts the program of a (dead) pane in place: same window, same tag. */
  async respawnPane(
    paneId: string,
    command: string[],
    opts: { cwd?: string | null | undefined; env?: Record<string, string> | undefined; pipe?: string[] | null | undefined } = {},
    options: CallOptions = {},
  ): Promise<WindowRef> {
    const stdout = await this.run(
      [
        'respawn-pane', '-k', '-t', paneId,
        ...(opts.cwd ? ['-c', literalArg(opts.cwd)] : []),
        ...envArgs(opts.env),
        '--', ...command.map(literalArg),
        // tmux keeps a pane's pipe across respawn-pane, and `-o` would close it: replace it.
        ...(opts.pipe ? [';', 'pipe-pane', '-t', paneId, pipeCommand(opts.pipe)] : []),
        ';', 'display-message', '-p', '-t', paneId, WINDOW_REF_FORMAT,
      ],
      options,
    );
    return windowRef(stdout);
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
        if (!(err instanceof TmuxError && NO_WINDOW.test(err.stderr))) throw err;
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

  /** The pane's visible screen plus up to `lines` lines of scrollback (`all` of it), as text. */
  async capturePane(paneId: string, opts: { lines?: number | 'all' } = {}, options: CallOptions = {}): Promise<string> {
    const from = opts.lines === 'all' ? '-' : String(-Math.max(0, opts.lines ?? 0));
    const start = opts.lines === undefined ? [] : ['-S', from];
    return this.run(['capture-pane', '-p', '-J', '-t', paneId, ...start], options);
  }

  /**
   * The command that shows a window to a person: `switch-client` when already inside tmux,
   * `attach-session` otherwise. Returned as argv for the caller to run with its own terminal.
   */
  attachCommand(windowId: string, insideTmux: boolean): string[] {
    const show = ['select-window', '-t', windowId, ';'];
    return this.transport.commandLine(
      insideTmux ? [...show, 'switch-client', '-t', windowId] : [...show, 'attach-session', '-t', windowId],
    );
  }

  /**
   * Starts a control-mode client attached to `group` that receives notifications only (no pane
   * output, no say in window sizes). It lives until its stdin is closed or it is killed.
   */
  controlClient(group: string, flags = 'no-output,ignore-size'): ControlClientProcess {
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
    const socket = this.socket;
    if (!socket) return;
    const uid = process.getuid?.() ?? 0;
    const file = 'path' in socket ? socket.path : join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, socket.name);
    rmSync(file, { force: true });
  }
}

/** The domain name of `Tmux`: the tmux verbs the engine uses. */
export { Tmux as TmuxCommands };
