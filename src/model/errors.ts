/**
 * Typed errors with stable codes. The CLI maps each code to its exit code; the library lets
 * callers branch on `code` instead of parsing messages.
 */
import type { ErrorData } from './schema.js';

/** Every error code, with the exit code the CLI ends with when it is raised. */
export const ERROR_CODES = {
  /** Bad usage or invalid input: nothing was written. */
  INVALID_INPUT: 2,
  /** The key is in a state that refuses the request, or another process changed it first. */
  CONFLICT: 3,
  /** No such session. */
  NOT_FOUND: 4,
  /** tmux failed, timed out or could not be reached. */
  TMUX_FAILED: 1,
  /** The tmux binary is not installed or not on PATH. */
  TMUX_NOT_FOUND: 1,
  /** The socket file of a tmux server that still runs was removed: `kill -USR1 PID` restores it. */
  TMUX_SOCKET_GONE: 1,
  /** The state file does not parse or validate; it is left untouched. */
  STATE_INVALID: 1,
  /** Reading or writing the state file failed (permissions, disk full, lock). */
  STATE_IO: 1,
  /** A spawn did not bring its window up; the error from tmux is attached. */
  SPAWN_FAILED: 1,
  /** A persisted snapshot could not be rehydrated (unknown state, error status). */
  SNAPSHOT_INVALID: 1,
  /** The inspector server could not start or be reached. */
  INSPECTOR_FAILED: 1,
  /** systemd (`systemctl --user`) refused or could not be reached by `warden service`. */
  SERVICE_FAILED: 1,
  /** A wait ran out of time before the session reached the state asked for. */
  TIMED_OUT: 1,
  /** git failed making, inspecting or removing a session's worktree. */
  WORKTREE_FAILED: 1,
  /** The session ended but its worktree was kept: it holds work nobody else has (or was not warden's). */
  WORKTREE_KEPT: 3,
  /** The `warden ui` server could not start (port, missing page assets). */
  UI_FAILED: 1,
} as const;

/** A stable error code: branch on it, never on a message. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Every error tmux-warden raises on purpose. `message` is one line naming the fix; `stderr` is
 * what tmux said, when it was tmux.
 */
export class WardenError extends Error {
  override readonly name: string = 'WardenError';
  readonly code: ErrorCode;
  readonly stderr: string;

  constructor(code: ErrorCode, message: string, options: { stderr?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.stderr = options.stderr ?? '';
  }

  get exitCode(): number {
    return ERROR_CODES[this.code];
  }

  toData(): ErrorData {
    return { code: this.code, message: this.message, stderr: this.stderr };
  }
}

/** Bad usage or invalid input (`INVALID_INPUT`, exit 2): nothing was written. */
export class InvalidInputError extends WardenError {
  override readonly name = 'InvalidInputError';
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

/** The key's state refuses the request, or another process changed it first (`CONFLICT`, exit 3). */
export class ConflictError extends WardenError {
  override readonly name = 'ConflictError';
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** No such session (`NOT_FOUND`, exit 4). */
export class NotFoundError extends WardenError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** The state file (at `path`) does not validate (`STATE_INVALID`) or cannot be read or written (`STATE_IO`). */
export class StateFileError extends WardenError {
  override readonly name: string = 'StateFileError';
  readonly path: string;
  /** The file was written by a newer tmux-warden: this one must neither use nor replace it. */
  readonly newerSchema: boolean;
  constructor(
    code: 'STATE_INVALID' | 'STATE_IO',
    path: string,
    message: string,
    cause?: unknown,
    options: { newerSchema?: boolean } = {},
  ) {
    super(code, message, { cause });
    this.path = path;
    this.newerSchema = options.newerSchema ?? false;
  }
}

/** Turns anything thrown into plain error data, for context and for logs. */
export function toErrorData(err: unknown, fallbackCode = 'INTERNAL'): ErrorData {
  if (err instanceof WardenError) return err.toData();
  if (err instanceof Error) return { code: fallbackCode, message: err.message, stderr: '' };
  return { code: fallbackCode, message: String(err), stderr: '' };
}
