/**
 * The one way to reach a tmux server. Like libtmux's `engines/base.py`, everything that speaks
 * tmux goes through `run` (one tmux process, one answer) or `open` (a long-lived client such as
 * `tmux -C`), so a new way of reaching a server (ssh) is one new class beside `LocalTransport`.
 * A transport says how a call ended; what tmux's stderr means is decided by the commands.
 */
import { execa, ExecaError } from 'execa';
import type { Readable, Writable } from 'node:stream';
import { WardenError } from '../model/errors.js';

/** `{ name }` is `tmux -L name`; `{ path }` is `tmux -S path`. */
export type TmuxSocket = { name: string } | { path: string };

/**
 * Why a tmux call failed: not installed, too slow, cancelled, no server, the socket removed
 * while its server runs (invariant 9), or anything else.
 */
export type TmuxErrorKind = 'not-found' | 'timeout' | 'aborted' | 'no-server' | 'socket-gone' | 'failed';

/** A failed tmux call (`TMUX_FAILED`, or `TMUX_NOT_FOUND` when the binary is missing). */
export class TmuxError extends WardenError {
  override readonly name = 'TmuxError';
  readonly kind: TmuxErrorKind;
  constructor(kind: TmuxErrorKind, message: string, stderr = '') {
    super(kind === 'not-found' ? 'TMUX_NOT_FOUND' : kind === 'socket-gone' ? 'TMUX_SOCKET_GONE' : 'TMUX_FAILED', message, { stderr });
    this.kind = kind;
  }
}

export interface RunOptions {
  /** Kill tmux after this long; 0 waits forever (a `wait-for`). */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Written to tmux's stdin; none by default. */
  input?: string | undefined;
  /**
   * Kill the tmux process if this one exits (execa's `cleanup`, default true). Long-lived
   * processes turn it off: execa's exit hook would otherwise re-raise a SIGTERM that the
   * application handles itself (`process.once('SIGTERM', …)`), killing it before it can close.
   */
  killOnExit?: boolean | undefined;
}

/** How one tmux process ended: it ran and exited, whatever its exit code. */
export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A long-lived tmux client (`tmux -C`): lines on stdout, commands on stdin. */
export interface ControlClientProcess {
  readonly stdout: Readable;
  /** Ending it detaches the client. */
  readonly stdin: Writable;
  kill(signal?: NodeJS.Signals): void;
  /** Settles (never rejects) once the client's process is gone. */
  readonly exited: Promise<void>;
}

export interface TmuxTransport {
  /** The tmux binary this transport runs. */
  readonly bin: string;
  readonly socket: TmuxSocket | undefined;
  /**
   * Runs one tmux process with `args` (commands chained with a `;` argument). Resolves with how
   * it exited, non-zero included; throws a TmuxError only when there is no answer at all:
   * `not-found`, `timeout`, `aborted`.
   */
  run(args: string[], options: RunOptions): Promise<RunResult>;
  /** Starts a tmux client that lives until its stdin closes or it is killed. */
  open(args: string[]): ControlClientProcess;
  /** The argv a person's terminal runs to do `args` on this server (attach, switch-client). */
  commandLine(args: string[]): string[];
}

/** The argv prefix that selects a server: `-L name` / `-S path`. */
export function socketArgs(socket: TmuxSocket | undefined): string[] {
  if (!socket) return [];
  return 'name' in socket ? ['-L', socket.name] : ['-S', socket.path];
}

/** An environment for tmux without `TMUX`/`TMUX_PANE`, so a client inside tmux still reaches our socket. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.TMUX;
  delete env.TMUX_PANE;
  return env;
}

/** tmux on this machine, over execa: argv (never a shell), a timeout, a cancel signal. */
export class LocalTransport implements TmuxTransport {
  readonly bin: string;
  readonly socket: TmuxSocket | undefined;

  constructor(options: { socket?: TmuxSocket | undefined; bin?: string | undefined } = {}) {
    this.bin = options.bin ?? 'tmux';
    this.socket = options.socket;
  }

  async run(args: string[], options: RunOptions): Promise<RunResult> {
    const verb = args[0] ?? '';
    // The timeout and the cancel signal are ours, not execa's: execa kills tmux on time but then
    // waits for its stdout to close, and a stopped server holds a copy of the client's pipes
    // (tmux passes them to the server), so that wait never ends. We kill the client, let go of
    // its pipes and answer at once (invariant 8).
    const subprocess = execa(this.bin, [...socketArgs(this.socket), ...args], {
      env: childEnv(),
      extendEnv: false,
      cleanup: options.killOnExit ?? true,
      ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
      stripFinalNewline: false,
      encoding: 'utf8',
    });
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      const giveUp = (error: TmuxError) => {
        subprocess.kill('SIGKILL');
        subprocess.stdout?.destroy();
        subprocess.stderr?.destroy();
        reject(error);
      };
      if (options.timeoutMs > 0) {
        timer = setTimeout(() => giveUp(new TmuxError('timeout', `tmux ${verb} timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
      }
      onAbort = () => giveUp(new TmuxError('aborted', `tmux ${verb} was cancelled`));
      if (options.signal?.aborted) onAbort();
      else options.signal?.addEventListener('abort', onAbort, { once: true });
    });
    // Whichever loses the race settles unheard.
    subprocess.catch(() => undefined);
    gaveUp.catch(() => undefined);
    try {
      const result = await Promise.race([subprocess, gaveUp]);
      return { stdout: result.stdout, stderr: result.stderr, exitCode: 0 };
    } catch (err) {
      if (err instanceof TmuxError) throw err;
      if (!(err instanceof ExecaError)) throw new TmuxError('failed', `tmux ${verb} failed: ${String(err)}`);
      const stderr = String(err.stderr ?? '');
      if (err.code === 'ENOENT') throw new TmuxError('not-found', `tmux not found (${this.bin}): install tmux >= 3.2`);
      if (typeof err.exitCode === 'number') return { stdout: String(err.stdout ?? ''), stderr, exitCode: err.exitCode };
      throw new TmuxError('failed', `tmux ${verb} failed: ${stderr.trim() || err.shortMessage}`, stderr.trim());
    } finally {
      clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener('abort', onAbort);
    }
  }

  open(args: string[]): ControlClientProcess {
    const child = execa(this.bin, [...socketArgs(this.socket), ...args], {
      env: childEnv(),
      extendEnv: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'ignore',
      buffer: false,
      reject: false,
      // It exits by itself when our end of its stdin closes, so no exit hook (see RunOptions.killOnExit).
      cleanup: false,
    });
    // Settles when the process is gone, not when its stdout closes: a stopped server holds the
    // client's pipes open after the client died.
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
      child.catch(() => resolve());
    });
    return {
      stdout: child.stdout,
      stdin: child.stdin,
      kill: (signal) => {
        child.kill(signal);
        if (signal === 'SIGKILL') child.stdout.destroy();
      },
      exited,
    };
  }

  commandLine(args: string[]): string[] {
    return [this.bin, ...socketArgs(this.socket), ...args];
  }
}
