/**
 * Reading what was validated already. Every write records beside the state file
 * (`state.json.valid`) the SHA-256 of the bytes it wrote, and a fingerprint of what validated
 * them: the package version and the published `schemas/state-file.schema.json` (which a test keeps
 * equal to the zod schema). A read whose bytes hash to that digest, under the same schema, skips zod: those
 * exact bytes were validated before they were written. Any other bytes — edited by hand, written by
 * another version of tmux-warden, torn — are validated in full, so a bad file is never trusted.
 * The record is only a hint: never synced, and a missing, torn or foreign one costs a validation.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STATE_FILE_MODE } from './paths.js';
import { untrustedBecause } from './trust.js';

/** The record's file, beside the state file. */
export function validatedRecordPath(stateFile: string): string {
  return `${stateFile}.valid`;
}

let fingerprint: string | null | undefined;

/**
 * The SHA-256 of this install's version and published state-file schema, or null when they are
 * not found (then every read validates).
 */
function schemaFingerprint(): string | null {
  if (fingerprint !== undefined) return fingerprint;
  fingerprint = null;
  try {
    for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
      if (!existsSync(join(dir, 'package.json'))) continue;
      // The version too: rules the JSON Schema cannot express (refinements) change with it.
      const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown };
      fingerprint = digest(`${String(version)}\n${readFileSync(join(dir, 'schemas', 'state-file.schema.json'), 'utf8')}`);
      break;
    }
  } catch {
    // No schema to name: every read validates.
  }
  return fingerprint;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

// The record is a few bytes, never synced: read and written synchronously, as cheap as a stat.

/** Whether `text`, the state file's bytes, is what a write of this schema recorded as validated. */
export function wasValidated(stateFile: string, text: string): boolean {
  const schema = schemaFingerprint();
  if (schema === null) return false;
  let record: { schema?: unknown; sha256?: unknown };
  try {
    const fd = openSync(validatedRecordPath(stateFile), 'r');
    try {
      // Only the user's own record counts, as for the state file itself.
      if (untrustedBecause(fstatSync(fd)) !== null) return false;
      record = JSON.parse(readFileSync(fd, 'utf8')) as typeof record;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  return record.schema === schema && record.sha256 === digest(text);
}

/** After a write of `text` (validated): records it, or, when that fails, nothing (the next read validates). */
export function recordValidated(stateFile: string, text: string): void {
  const schema = schemaFingerprint();
  if (schema === null) return;
  try {
    writeFileSync(validatedRecordPath(stateFile), JSON.stringify({ schema, sha256: digest(text) }), { mode: STATE_FILE_MODE });
  } catch {
    // The next read validates.
  }
}
