/**
 * A YAML or JSON file a user writes by hand (the config file, a sessions file), parsed with the
 * line of every field kept, so a validation error names the file, the line and the field.
 */
import type { Document } from 'yaml';
import { InvalidInputError } from './errors.js';
import { formatIssue, type IssueLike, type IssueNaming } from './issues.js';

/** A parsed file: its data, and where in the text each field is. */
export interface SourceFile {
  file: string;
  data: unknown;
  /** The 1-based line of the field at `path`, or of its nearest parent that is written. */
  lineOf(path: readonly PropertyKey[]): number;
}

/**
 * Parses `text` (YAML, or JSON, which YAML reads as well) from `file`.
 * @throws InvalidInputError naming the file and the line of the first syntax error.
 */
export async function parseSourceFile(file: string, text: string, what: string): Promise<SourceFile> {
  // Loaded when a file is read, not on every CLI start.
  const { LineCounter, isMap, isPair, isScalar, parseDocument } = await import('yaml');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const line = syntax.linePos?.[0]?.line ?? 1;
    const kind = /\.json$/i.test(file) ? 'JSON' : 'YAML';
    throw new InvalidInputError(`${what} ${file}:${line} is not ${kind} (${syntax.message.split('\n')[0]}): fix it`);
  }
  return {
    file,
    data: doc.toJS({ maxAliasCount: 100 }) ?? {},
    lineOf: (path) => lines.linePos(offsetOf(doc, path, { isMap, isPair, isScalar })).line,
  };
}

type NodeTests = Pick<typeof import('yaml'), 'isMap' | 'isPair' | 'isScalar'>;

/** The text offset of the field at `path`: its key where it has one, else its nearest written parent. */
function offsetOf(doc: Document, path: readonly PropertyKey[], { isMap, isPair, isScalar }: NodeTests): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as { range?: number[] } | null)?.range?.[0] ?? 0;
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) break;
      offset = (pair.key as { range?: number[] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (node && typeof node === 'object' && 'items' in node && Array.isArray(node.items)) {
      const item = node.items[Number(step)] as { range?: number[] } | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}

/** One line for the first issue of `error`, prefixed with `what FILE:LINE`. */
export function sourceIssue(
  source: SourceFile,
  error: { issues: readonly IssueLike[] },
  what: string,
  naming: Omit<IssueNaming, 'subject'> = {},
): InvalidInputError {
  const issue = error.issues[0];
  const line = issue ? source.lineOf(issuePath(issue)) : 1;
  return new InvalidInputError(formatIssue(error, { ...naming, subject: `${what} ${source.file}:${line}` }));
}

/** The path of the field an issue is about: an unknown key's own path, not its parent's. */
function issuePath(issue: IssueLike): PropertyKey[] {
  const keys = (issue as { keys?: string[] }).keys;
  return keys?.length ? [...issue.path, keys[0]!] : issue.path;
}
