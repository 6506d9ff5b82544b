/** `logs`: a session's durable log, rendered as its screen showed it; or the pane, for a session without one. */
import type { Engine } from '../engine.js';
import { InvalidInputError, NotFoundError } from '../model/errors.js';
import type { HistoryEntry, SessionInfo } from '../model/schema.js';
import { defaultLogDirectory, sessionLogPath } from '../logs/paths.js';
import { DEAD_PANE_LINE } from '../logs/saved-screen.js';
import { examples, parseKey, parseLineCount, printJson, withEngine, type RegisterVerb } from './shared.js';

interface LogsOptions {
  lines?: number;
  follow?: boolean;
  since?: string;
  raw?: boolean;
  session?: string;
}

/** The log of the session asked for, or the pane to capture when that session has no log. */
type Source = { key: string; sessionId: string; logFile: string; capture: boolean };

export const registerLogs: RegisterVerb = (program, globals) => {
  program
    .command('logs')
    .description("print the session's output, kept in its log across exits, resumes, a dead tmux server and end")
    .argument('<key>', 'the session key', parseKey)
    .option('-n, --lines <count>', 'the last COUNT lines (default: a screen, 50; all with --since)', parseLineCount)
    .option('-f, --follow', 'then print each new line as the program finishes it, until Ctrl-C')
    .option('--since <time>', 'only what was written since TIME: 90s, 10m, 2h, 1d, or a date such as 2026-11-30T14:00')
    .option('--raw', 'the bytes as the program wrote them, escape sequences and all, not rendered')
    .option('--session <id>', "an earlier session of KEY: its id from 'warden history KEY'")
    .addHelpText(
      'after',
      examples(
        'warden logs api-fix -n 200',
        'warden logs api-fix -f                      # Ctrl-C to stop',
        'warden logs api-fix --since 1h --raw > api-fix.log',
        'warden logs api-fix --json | jq -r .text',
      ),
    )
    .action(async (key: string, opts: LogsOptions) => {
      const g = globals();
      const { parseSince, logExists } = await import('../logs/view.js');
      const since = opts.since === undefined ? undefined : parseSince(opts.since);
      if (since === null) {
        throw new InvalidInputError(`--since ${JSON.stringify(opts.since)} is not a time: use e.g. --since 10m, --since 2h or --since 2026-11-30T14:00`);
      }
      if (opts.follow && g.json) throw new InvalidInputError(`--follow prints lines as they come, not JSON: drop --json (add --raw for the bytes)`);
      if (!opts.follow) {
        const { source, text } = await withEngine(g, (engine) => logsText(engine, key, { ...opts, since }));
        return printText(g.json ?? false, source, text);
      }
      const source = await withEngine(g, async (engine) => {
        const found = await findSource(engine, key, opts.session);
        if (!found.capture || (await logExists(found.logFile))) return found;
        throw new NotFoundError(`${key} has no log to follow: it was started before warden kept logs; 'warden logs ${key}' shows its pane`);
      });
      if (!(await logExists(source.logFile))) throw noLog(source);
      const { followView } = await import('../logs/view.js');
      await followUntilInterrupted((signal) =>
        followView(source.logFile, (text) => process.stdout.write(text), { lines: opts.lines, since, raw: opts.raw, signal }),
      );
    });
};

function noLog(source: Source): NotFoundError {
  return new NotFoundError(`${source.key} (session ${source.sessionId}) has no log at ${source.logFile}: it was removed, or never written`);
}

/**
 * What `logs KEY` prints without --follow: the session's log rendered as its screen showed it (or
 * raw), or the pane of a live session started before logs were kept. `warden ui` shows the same.
 */
export async function logsText(
  engine: Engine,
  key: string,
  opts: { lines?: number | undefined; since?: number | undefined; raw?: boolean | undefined; session?: string | undefined },
): Promise<{ source: Source; text: string }> {
  const { logExists, viewLog } = await import('../logs/view.js');
  const found = await findSource(engine, key, opts.session);
  const source = { ...found, capture: found.capture && !(await logExists(found.logFile)) };
  if (source.capture) return { source, text: paneText(await engine.capture(key, { lines: opts.lines })) };
  if (!(await logExists(source.logFile))) throw noLog(source);
  return { source, text: await viewLog(source.logFile, { lines: opts.lines, since: opts.since, raw: opts.raw }) };
}

/**
 * The session `logs` reads: `--session ID` among the key's record and history; otherwise the
 * key's record, or its most recently ended session. A live session without a log is captured.
 */
async function findSource(engine: Engine, key: string, sessionId: string | undefined): Promise<Source> {
  const info = engine.get(key);
  const history = await engine.history(key);
  // An entry written before logs were kept names none: its log would be where logs are now.
  const logOf = (entry: SessionInfo | HistoryEntry) =>
    entry.logFile ?? sessionLogPath(defaultLogDirectory(engine.stateFile), key, entry.sessionId!);
  const current = info?.sessionId ? { key, sessionId: info.sessionId, logFile: logOf(info), capture: info.state === 'active' } : null;
  if (sessionId !== undefined) {
    if (current && current.sessionId === sessionId) return current;
    const entry = history.find((h) => h.sessionId === sessionId);
    if (!entry) throw new NotFoundError(`${key} had no session ${sessionId}: 'warden history ${key}' lists its sessions`);
    return { key, sessionId, logFile: logOf(entry), capture: false };
  }
  if (current) return current;
  const last = history.at(-1);
  if (!last) throw new NotFoundError(`no session ${key}: 'warden ls' lists them`);
  return { key, sessionId: last.sessionId, logFile: logOf(last), capture: false };
}

/** tmux's own "Pane is dead" line and the empty rows of the screen are not the program's output. */
function paneText(captured: string): string {
  const lines = captured.split('\n').filter((line) => !DEAD_PANE_LINE.test(line));
  const text = lines.join('\n').replace(/\s+$/, '');
  return text ? `${text}\n` : '';
}

function printText(json: boolean, source: Source, text: string): void {
  if (json) printJson({ key: source.key, sessionId: source.sessionId, logFile: source.capture ? null : source.logFile, text });
  else process.stdout.write(text);
}

/** Runs `follow` until Ctrl-C (or SIGTERM, or the reader going away); that is a normal end. */
async function followUntilInterrupted(follow: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await follow(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
