/**
 * The one way a zod issue becomes a line a user can act on. Whoever validates names the fields
 * the way its user knows them (a CLI flag, a config path): the caller passes `nameOf`.
 */

/** The part of a zod issue this formatter reads. */
export interface IssueLike {
  path: PropertyKey[];
  message: string;
  /** A record key's own issues (an env or label name that fails its pattern). */
  issues?: unknown;
  /** The value refused, when the validation was asked to report it (`reportInput`). */
  input?: unknown;
  /** `unrecognized_keys`, … */
  code?: string;
  /** The keys an object does not know (`unrecognized_keys`). */
  keys?: string[];
}

export interface IssueNaming {
  /** What was validated: `spawn api-fix`, `config ~/.config/…`. */
  subject: string;
  /** How the user names the field at `path`; undefined falls back to `subject path.to.field`. */
  nameOf?: ((path: PropertyKey[]) => string | undefined) | undefined;
  /** What to say of an unknown `key` in the object at `path` (`unknown state "x": use one of …`). */
  unknownKey?: ((path: PropertyKey[], key: string) => string | undefined) | undefined;
}

/** `invalid --env "A-B": …` / `invalid spawn x command: …` for the first issue of `error`. */
export function formatIssue(error: { issues: readonly IssueLike[] }, naming: IssueNaming): string {
  const issue = error.issues[0];
  if (!issue) return `invalid ${naming.subject}`;
  const named = naming.nameOf?.(issue.path);
  if (named) {
    // A bad record key (env or label name) carries its reason one level down.
    const nested = (issue.issues as { message: string }[] | undefined)?.[0]?.message;
    // Echo what was given: a record key (`--env "1X"`), or a short value (`--group "a:b"`).
    const given = typeof issue.input === 'string' && issue.input.length <= 100 ? issue.input : undefined;
    const field = issue.path.length > 1 ? ` ${JSON.stringify(String(issue.path[1]))}` : given !== undefined ? ` ${JSON.stringify(given)}` : '';
    return `invalid ${named}${field}: ${nested ?? issue.message}`;
  }
  if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
    const key = issue.keys[0]!;
    const field = [...issue.path, key].map(String).join('.');
    const said = naming.unknownKey?.(issue.path, key) ?? `unknown field ${JSON.stringify(key)}`;
    return `invalid ${naming.subject} ${field}: ${said}`;
  }
  const where = issue.path.length ? `${naming.subject} ${issue.path.map(String).join('.')}` : naming.subject;
  return `invalid ${where}: ${issue.message}`;
}
