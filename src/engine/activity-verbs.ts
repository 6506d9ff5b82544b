/**
 * The activity verbs, as the façade runs them: `signal` (an agent's own hook says what it does),
 * `wait` (block until a session reaches a state or an activity), and sending text so that a TUI
 * takes it (bracketed paste, Enter after the profile's delay, checked on the screen).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { WAIT_STATES } from '../../machines/paths.js';
import { signalEvent } from '../../machines/probe.js';
import { DEFAULT_QUIET_MS } from '../activity/profiles.js';
import { ConflictError, InvalidInputError } from '../model/errors.js';
import { ActivitySchema, SEND_TEXT_MAX_BYTES, type Activity, type SessionInfo } from '../model/schema.js';
import type { EngineCore } from './core.js';
import { validateKey } from './launch-spec.js';
import { sessionInfo } from './session-info.js';
import type { TransitionEvent } from './types.js';

/** What `wait` may wait for: the activities, a session's life, or `ended` (no session left). */
export const WAIT_UNTIL: readonly string[] = [...Object.keys(WAIT_STATES), 'ended'];

interface Checks {
  require(key: string): SessionInfo;
  get(key: string): SessionInfo | undefined;
  assertUsable(key: string): void;
}

/** Validates `activity` as `busy`, `idle` or `waiting`. */
export function parseActivity(activity: unknown): Activity {
  const parsed = ActivitySchema.safeParse(activity);
  if (!parsed.success) throw new InvalidInputError(`unknown activity ${JSON.stringify(activity)}: use busy, idle or waiting`);
  return parsed.data;
}

/** `warden signal`: records what the agent says it does, durable before it resolves. */
export async function signalSession(core: EngineCore, key: string, activity: Activity, checks: Checks): Promise<SessionInfo> {
  core.assertOpen();
  validateKey(key);
  parseActivity(activity);
  await core.sync();
  const before = checks.require(key);
  // The same signal again (hooks fire more than once) changes nothing, so nothing is written.
  if (before.activity === activity && before.activitySource === 'signal') return before;
  const event = signalEvent(activity, Date.now());
  if (!core.machineSnapshot(key).can(event)) {
    throw new ConflictError(`${key} is ${before.state === 'active' ? 'exited' : before.state}, not running: a signal is for a running session`);
  }
  const at = event.type === 'SIGNAL' ? event.at : '';
  const settled = core.writes.whenDurable(key, (record) => record === null || record.snapshot.context.activity?.since === at);
  core.dispatch(key, event);
  const { record } = await settled;
  if (!record) throw new ConflictError(`${key} ended while the signal was written`);
  // A watcher elsewhere learns of it now rather than at its next look.
  await core.tmux.wakeWatchers().catch(() => undefined);
  return sessionInfo(key, record.snapshot.value, record.snapshot.context, record.updatedAt);
}

/** Validates a `--until` list. */
export function parseUntil(until: readonly string[]): string[] {
  const names = until.flatMap((u) => u.split(',')).map((u) => u.trim()).filter(Boolean);
  const unknown = names.filter((n) => !WAIT_UNTIL.includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new InvalidInputError(
      `--until ${JSON.stringify(unknown[0] ?? until.join(','))} is not a state to wait for: use ${WAIT_UNTIL.join(', ')} (comma-separated)`,
    );
  }
  return names;
}

/** Whether the session (null: none) is in one of the named states. */
export function reached(core: EngineCore, key: string, until: readonly string[]): boolean {
  const record = core.view.problem(key) ? undefined : core.view.record(key);
  if (!record) return until.includes('ended');
  return until.some((name) => WAIT_STATES[name]?.(record.snapshot.value) ?? false);
}

/** What `wait` saw: whether it reached one of the states, and the session as it stood. */
export interface WaitResult {
  reached: boolean;
  session: SessionInfo | null;
}

/**
 * Resolves as soon as the session is in one of `until` (durable), or when `timeoutMs` passes. It
 * listens the way `watch` does (tmux's notifications, the quiet deadlines), running `watch` for
 * as long as it waits, so it needs no watcher elsewhere.
 */
export async function waitForState(
  core: EngineCore,
  key: string,
  until: readonly string[],
  options: { timeoutMs?: number | undefined; watch: (signal: AbortSignal) => Promise<void>; checks: Checks },
): Promise<WaitResult> {
  core.assertOpen();
  validateKey(key);
  const names = parseUntil(until);
  await core.sync();
  options.checks.assertUsable(key);
  if (!core.view.record(key) && !names.includes('ended')) options.checks.require(key);
  const result = (): WaitResult => ({ reached: reached(core, key, names), session: options.checks.get(key) ?? null });
  if (reached(core, key, names)) return result();
  const stop = new AbortController();
  const done = new Promise<void>((resolve) => {
    const check = (event?: TransitionEvent) => {
      if (event && event.key !== key) return;
      if (reached(core, key, names)) resolve();
    };
    const unsubscribe = core.writes.subscribe(check);
    stop.signal.addEventListener('abort', () => {
      unsubscribe();
      resolve();
    });
  });
  const timer = options.timeoutMs === undefined ? null : setTimeout(() => stop.abort(), options.timeoutMs);
  const watching = options.watch(stop.signal).catch(() => undefined);
  try {
    await Promise.race([done, watching]);
  } finally {
    if (timer) clearTimeout(timer);
    stop.abort();
    await watching;
  }
  return result();
}

/**
 * Refuses text one send cannot type: over tmux's command size, or with a control character other
 * than newline and tab ("literal" text that silently became a key press would surprise its sender).
 */
export function validateSendText(text: string): void {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > SEND_TEXT_MAX_BYTES) {
    throw new InvalidInputError(
      `the text is ${bytes} bytes, more than the ${SEND_TEXT_MAX_BYTES} one send can type (tmux refuses longer commands): send it in parts`,
    );
  }
  const control = /[\u0000-\u0008\u000b-\u001f\u007f]/.exec(text.replaceAll('\r\n', '\n'));
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new InvalidInputError(
      `the text contains control character U+${code}: send types text (newline and tab included); press keys with 'tmux send-keys'`,
    );
  }
}

/** How a `send` went: whether the screen showed the text taken. */
export interface SendResult {
  /** `true`: the text left the input line; `false`: still there after a second Enter; `null`: not checked. */
  submitted: boolean | null;
}

/** How long to look for the screen to show the text taken after Enter. */
const SUBMIT_CHECK_MS = 1500;
const SUBMIT_POLL_MS = 50;

/**
 * Types `text` into a TUI the way it takes it: a bracketed paste (tmux pastes with the brackets
 * when the program asked for them), Enter separately after the profile's delay, then (for
 * profiles that ask for it) a check that the text's last line left the bottom of the screen,
 * with one more Enter if it did not.
 */
export async function sendToPane(
  core: EngineCore,
  info: SessionInfo,
  text: string,
  options: { enter?: boolean | undefined },
): Promise<SendResult> {
  const paneId = info.paneId!;
  const record = core.view.record(info.key);
  const profile = core.activity.profileOf(record?.snapshot.context.spec ?? null);
  await core.tmux.pasteText(paneId, text);
  if (options.enter === false) return { submitted: null };
  if (profile && profile.enterDelayMs > 0) await delay(profile.enterDelayMs);
  const tail = lastLine(text);
  if (!profile?.verifySubmit || tail === '') {
    await core.tmux.pressEnter(paneId);
    return { submitted: null };
  }
  // Where the text shows before Enter: the input line, at the cursor (or the line above it).
  const before = await core.tmux.screenRows(paneId).catch(() => null);
  const inputRow = before ? rowShowing(before.rows, before.cursorRow, tail) : null;
  await core.tmux.pressEnter(paneId);
  // A program that does not show what is typed cannot be checked.
  if (inputRow === null) return { submitted: null };
  for (let enters = 1; enters <= 2; enters++) {
    if (await textLeftInput(core, paneId, tail, inputRow - enters)) return { submitted: true };
    if (enters === 1) await core.tmux.pressEnter(paneId);
  }
  return { submitted: false };
}

/** The row at or just above `cursorRow` that shows `tail`, or null. */
function rowShowing(rows: readonly string[], cursorRow: number, tail: string): number | null {
  for (const row of [cursorRow, cursorRow - 1]) if (rows[row]?.includes(tail)) return row;
  return null;
}

/** The last non-empty line of what was sent, its last 40 characters: what an input line would show. */
function lastLine(text: string): string {
  const line = text.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? '';
  return line.slice(-40);
}

/**
 * Whether the input box stops showing `tail` within the check period. A TUI keeps its input box
 * at the bottom: a submitted text leaves it (the transcript above gets it); a text that an Enter
 * only broke into two lines is still there, a row higher for each Enter (the box grows upwards):
 * `fromRow` is the highest row it can be on.
 */
async function textLeftInput(core: EngineCore, paneId: string, tail: string, fromRow: number): Promise<boolean> {
  const deadline = Date.now() + SUBMIT_CHECK_MS;
  for (;;) {
    const screen = await core.tmux.screenRows(paneId).catch(() => null);
    if (screen && !screen.rows.slice(Math.max(0, fromRow)).some((row) => row.includes(tail))) return true;
    if (Date.now() >= deadline) return false;
    await delay(SUBMIT_POLL_MS);
  }
}

/** How a session's activity was decided, for `status --explain`. */
export interface ActivityExplanation {
  activity: Activity;
  /** `signal` (the agent's hook), `pattern` (a line of its screen), `silence` (output, or quiet with no pattern). */
  source: 'signal' | 'pattern' | 'silence';
  since: string | null;
  /** The line of the screen, or the signal, that decided; null for silence. */
  matched: string | null;
  /** The profile the session's screen is read with; null: none fits, silence alone decides. */
  profile: string | null;
  quietMs: number;
}

/** Why the session of `key` has its activity, or null when it is not running. */
export function explainActivity(core: EngineCore, key: string): ActivityExplanation | null {
  const record = core.view.record(key);
  if (!record) return null;
  const { value, context } = record.snapshot;
  const info = sessionInfo(key, value, context, record.updatedAt);
  if (info.activity === null) return null;
  const profile = core.activity.profileOf(context.spec);
  return {
    activity: info.activity,
    source: info.activitySource ?? 'silence',
    since: info.activitySince,
    matched: context.activity?.matched ?? null,
    profile: core.activity.profileNameOf(context.spec),
    quietMs: profile?.quietMs ?? DEFAULT_QUIET_MS,
  };
}
