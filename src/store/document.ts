/**
 * The state file's document: parsed, migrated to the current schema version and validated with
 * zod on every read, so nothing downstream ever sees a document the schema does not describe.
 */
import { StateFileError } from '../model/errors.js';
import { SCHEMA_VERSION, StateDocumentSchema, emptyDocument } from '../model/schema.js';
import type { HistoryEntry, OutboxEntry, SessionRecord, StateDocument } from '../model/schema.js';
import { describeIssues, invalidStateFile, oneLine } from './state-file-errors.js';

/**
 * `migrations[n]` turns a version-n document into a version n+1 document. Applied on read, before
 * validation; the file itself is rewritten in the new version by the next commit. Version 1 is the
 * first, so there are none yet.
 */
export type Migration = (document: Record<string, unknown>) => Record<string, unknown>;
export const migrations: Readonly<Record<number, Migration>> = {};

/** Brings a parsed document up to SCHEMA_VERSION; refuses documents from a newer tmux-warden. */
export function migrateDocument(
  raw: unknown,
  file: string,
  table: Readonly<Record<number, Migration>> = migrations,
): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  let doc = raw as Record<string, unknown>;
  let version = doc.schemaVersion;
  if (typeof version !== 'number' || !Number.isInteger(version)) return doc;
  if (version > SCHEMA_VERSION) {
    throw new StateFileError(
      'STATE_INVALID',
      file,
      `state file ${file} was written by a newer tmux-warden (schema version ${version}, this one reads up to ${SCHEMA_VERSION}): upgrade tmux-warden`,
      undefined,
      { newerSchema: true },
    );
  }
  while (version < SCHEMA_VERSION) {
    const step = table[version];
    if (!step) throw invalidStateFile(file, `has schema version ${version}, which this tmux-warden cannot migrate`);
    doc = step(doc);
    version += 1;
    doc.schemaVersion = version;
  }
  return doc;
}

/**
 * Parses file bytes into a validated, current-version document, or throws STATE_INVALID.
 * `validated`: these exact bytes were validated by this schema when they were written
 * (validated.ts), so they are parsed without validating again.
 */
export function parseStateDocument(text: string, file: string, options: { validated?: boolean } = {}): StateDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalidStateFile(file, `is not valid JSON (${oneLine(err instanceof Error ? err.message : String(err))})`, err);
  }
  if (options.validated && (raw as { schemaVersion?: unknown } | null)?.schemaVersion === SCHEMA_VERSION) {
    const known = raw as StateDocument;
    return freezeDocument(known.sessions, known.history, known.outbox);
  }
  const migrated = migrateDocument(raw, file);
  const result = StateDocumentSchema.safeParse(migrated);
  if (!result.success) {
    throw invalidStateFile(file, `does not match the state schema (${oneLine(describeIssues(result.error))})`, result.error);
  }
  return freezeDocument(result.data.sessions, result.data.history, result.data.outbox);
}

/** What a missing state file reads as. */
export function emptyStateDocument(): StateDocument {
  return freezeDocument(emptyDocument().sessions, []);
}

/**
 * Documents are shared between the store's cache and its callers, so they are frozen (the
 * document, the sessions map, the history and outbox arrays and each record; not the snapshots inside).
 * The sessions map has no prototype, so `sessions['constructor']` is undefined, not a function.
 */
function freezeDocument(sessions: Record<string, SessionRecord>, history: HistoryEntry[], outbox?: OutboxEntry[]): StateDocument {
  const map = Object.assign(Object.create(null) as Record<string, SessionRecord>, sessions);
  for (const key in map) Object.freeze(map[key]);
  return Object.freeze({
    schemaVersion: SCHEMA_VERSION,
    sessions: Object.freeze(map),
    history: Object.freeze(history) as HistoryEntry[],
    ...(outbox && outbox.length > 0 ? { outbox: Object.freeze(outbox.map((entry) => Object.freeze(entry))) as OutboxEntry[] } : {}),
  });
}
