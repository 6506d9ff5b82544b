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
    try {
      const result = await execa(this.bin, [...socketArgs(this.socket), ...args], {
        env: childEnv(),
        extendEnv: false,
        timeout: options.timeoutMs,
        cancelSignal: options.signal,
        cleanup: options.killOnExit ?? true,
        ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
        stripFinalNewline: false,
        encoding: 'utf8',
      });
      return { stdout: result.stdout, stderr: result.stderr, exitCode: 0 };
    } catch (err) {
      if (!(err instanceof ExecaError)) throw new TmuxError('failed', `tmux ${verb} failed: ${String(err)}`);
      const stderr = String(err.stderr ?? '');
      if (err.code === 'ENOENT') throw new TmuxError('not-found', `tmux not found (${this.bin}): install tmux >= 3.2`);
      if (err.timedOut) throw new TmuxError('timeout', `tmux ${verb} timed out after ${options.timeoutMs} ms`, stderr.trim());
      if (err.isCanceled) throw new TmuxError('aborted', `tmux ${verb} was cancelled`, stderr.trim());
      if (typeof err.exitCode === 'number') return { stdout: String(err.stdout ?? ''), stderr, exitCode: err.exitCode };
      throw new TmuxError('failed', `tmux ${verb} failed: ${stderr.trim() || err.shortMessage}`, stderr.trim());
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
    return {
      stdout: child.stdout,
      stdin: child.stdin,
      kill: (signal) => void child.kill(signal),
      exited: child.then(() => undefined),
    };
  }

  commandLine(args: string[]): string[] {
    return [this.bin, ...socketArgs(this.socket), ...args];
  }
}
