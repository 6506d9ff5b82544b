/**
 * The engine's side of durable logs, one object with a narrow interface: where a session's log
 * is, the pipe a launch chains, the screen saved before a kill, the marks `--since` reads, and
 * retention. Nothing here speaks tmux: the engine passes the pipe's argv to the tmux adapter and
 * hands over what it captured. Logging never stops a launch or a kill: a log that cannot be
 * written (a read-only or full disk) means a session without one, not a failed spawn or end.
 */
import { appendFile } from 'node:fs/promises';
import { recordMark } from './files.js';
import { LOG_FILE_MODE, ensureLogDirectory, sessionLogPath } from './paths.js';
import { logPipeArgv } from './pipe.js';
import { applyRetention, planRetention, scanLogs, type RetentionPlan } from './retention.js';
import { savedScreenBytes } from './saved-screen.js';
import { LogSettingsSchema, type LogSettings, type LogSettingsInput } from '../model/log-settings.js';

/** How often the watcher may note where a growing log stands (the resolution of `--since`). */
export const MARK_SPACING_MS = 10_000;

export class SessionLogs {
  readonly settings: LogSettings;
  /** Directories made (or tightened) by this process: each key's once. */
  private readonly ensured = new Set<string>();

  constructor(
    readonly directory: string,
    settings: LogSettingsInput = {},
  ) {
    this.settings = LogSettingsSchema.parse(settings);
  }

  /** The session's log; null when logs are off. */
  logFile(key: string, sessionId: string | null): string | null {
    return this.settings.enabled && sessionId ? sessionLogPath(this.directory, key, sessionId) : null;
  }

  /**
   * Readies the session's log for a launch and returns the argv of the pipe to chain into it
   * (null when logs are off or the directory cannot be made). Notes where this run's output starts.
   */
  async pipeFor(key: string, sessionId: string): Promise<string[] | null> {
    const file = this.logFile(key, sessionId);
    if (!file) return null;
    try {
      if (!this.ensured.has(key)) {
        await ensureLogDirectory(file);
        this.ensured.add(key);
      }
      await recordMark(file);
    } catch {
      return null;
    }
    return logPipeArgv(file, this.settings);
  }

  /** Appends a pane's captured screen and scrollback to the session's log (see saved-screen.ts). */
  async saveScreen(key: string, sessionId: string, captured: string): Promise<void> {
    const file = this.logFile(key, sessionId);
    const bytes = savedScreenBytes(captured);
    if (!file || bytes.length === 0) return;
    try {
      await ensureLogDirectory(file);
      await appendFile(file, bytes, { mode: LOG_FILE_MODE });
      await recordMark(file);
    } catch {
      // The pipe's bytes are what the log has.
    }
  }

  /** Notes where running sessions' logs stand, at most every MARK_SPACING_MS each. */
  async markGrowth(sessions: readonly { key: string; sessionId: string | null }[]): Promise<void> {
    for (const { key, sessionId } of sessions) {
      const file = this.logFile(key, sessionId);
      if (file) await recordMark(file, { minSpacingMs: MARK_SPACING_MS }).catch(() => undefined);
    }
  }

  /** Removes ended sessions' logs past the retention limits; `live` are the session ids the state file holds. */
  async applyRetention(live: ReadonlySet<string>, now = Date.now()): Promise<RetentionPlan & { removed: string[] }> {
    const plan = planRetention(await scanLogs(this.directory), live, this.settings, now);
    return { ...plan, removed: await applyRetention(plan) };
  }
}
