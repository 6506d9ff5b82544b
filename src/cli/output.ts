/**
 * What `warden` says on stderr. For people: one line, `warden: …`. Under `--json`, every line is
 * one JSON object a script can parse: `{"error":{"code","message"}}` for the error that decides
 * the exit code, `{"warning":{"code","message"}}` for what it should know but that did not fail.
 */
let json = false;

/** Whether the arguments ask for JSON: `--json` anywhere before a `--` (what follows belongs to a program). */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--json');
}

/** Set once by `main` from the arguments, before anything can fail. */
export function useJsonErrors(enabled: boolean): void {
  json = enabled;
}

export function jsonErrors(): boolean {
  return json;
}

function say(kind: 'error' | 'warning', code: string, message: string): void {
  process.stderr.write(json ? `${JSON.stringify({ [kind]: { code, message } })}\n` : `warden: ${message}\n`);
}

/** The error the run ends with; the caller returns its exit code. */
export function printError(code: string, message: string): void {
  say('error', code, message);
}

/** Something the user should know that does not fail the run (tmux did not answer, a hook failed). */
export function warn(code: string, message: string): void {
  say('warning', code, message);
}
