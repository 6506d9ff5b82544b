/**
 * Typed errors with stable codes. The CLI maps each code to its exit code; the library lets
 * callers branch on `code` instead of parsing messages.
 */
import type { ErrorData } from './schema.js';

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
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

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

export class InvalidInputError extends WardenError {
  override readonly name = 'InvalidInputError';
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

export class ConflictError extends WardenError {
  override readonly name = 'ConflictError';
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

export class NotFoundError extends WardenError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class StateFileError extends WardenError {
  override readonly name = 'StateFileError';
  readonly path: string;
  constructor(code: 'STATE_INVALID' | 'STATE_IO', path: string, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.path = path;
  }
}

/** Turns anything thrown into plain error data, for context and for logs. */
export function toErrorData(err: unknown, fallbackCode = 'INTERNAL'): ErrorData {
  if (err instanceof WardenError) return err.toData();
  if (err instanceof Error) return { code: fallbackCode, message: err.message, stderr: '' };
  return { code: fallbackCode, message: String(err), stderr: '' };
}
