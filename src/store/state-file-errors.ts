/**
 * The store's errors, built in one place: every message stays one line and names the file and
 * the fix the same way, whichever part of the store raised it.
 */
import { StateFileError } from '../model/errors.js';

/** Error text quotes parsers and the OS, which may span lines; the CLI prints one line per error. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function describeError(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** The first zod issue is usually the cause; the rest are counted so nobody thinks it was the only one. */
export function describeIssues(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  const [first] = error.issues;
  if (!first) return 'invalid';
  const where = first.path.length > 0 ? first.path.map(String).join('.') : 'document';
  const more = error.issues.length > 1 ? `; and ${error.issues.length - 1} more` : '';
  return `${where}: ${first.message}${more}`;
}

export function stateIoError(file: string, message: string, cause?: unknown): StateFileError {
  return new StateFileError('STATE_IO', file, message, cause);
}

function repairHint(file: string): string {
  // The backup has no backup of its own to restore.
  if (file.endsWith('.bak')) return 'fix or remove it';
  return `fix or remove it, or restore ${file}.bak with 'warden doctor --repair'`;
}

export function invalidStateFile(file: string, what: string, cause?: unknown): StateFileError {
  return new StateFileError('STATE_INVALID', file, `state file ${file} ${what}: ${repairHint(file)}`, cause);
}
