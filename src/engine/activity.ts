/**
 * Activity on reconcile: from the one probe (tmux's `window_activity`, or what a control client
 * heard), each running session's activity event as `machines/probe.ts` maps it; the sessions that
 * went quiet while busy get their bottom lines captured (one tmux process for all of them) and
 * read by their profile. No per-session polling: this runs only as part of a reconcile.
 */
import { activityIn } from '../../machines/paths.js';
import { activityEvent, quietEvent, READ_SCREEN } from '../../machines/probe.js';
import type { SessionEvent } from '../../machines/session.js';
import { DEFAULT_QUIET_MS, readScreen, type Profile, type ProfileBook } from '../activity/profiles.js';
import type { LaunchSpec, SessionContext } from '../model/schema.js';
import type { Tmux } from '../tmux/commands.js';
import type { PaneRecord } from '../tmux/formats.js';

/** What a long-running listener heard that a probe cannot say as precisely: the last output of a pane. */
export interface OutputHints {
  lastOutputAt(paneId: string): number | undefined;
}

/** A running session that went quiet while busy: its screen decides. */
interface QuietSession {
  key: string;
  paneId: string;
  profile: Profile | null;
  lastOutputAt: number | null;
}

/**
 * When a pane last printed, as well as it is known. tmux's `window_activity` is in whole seconds:
 * the output may have come up to 999 ms after it, so that is assumed (a quiet period is never
 * cut short by the rounding). What a control client heard is exact, and used when it covers it.
 */
export function lastOutput(activityAt: number | null, heard: number | undefined): number | null {
  if (heard !== undefined && (activityAt === null || heard >= activityAt)) return heard;
  return activityAt === null ? null : activityAt + 999;
}

export class ActivityReader {
  constructor(
    private readonly tmux: Tmux,
    readonly profiles: ProfileBook,
  ) {}

  /** The profile a session runs under, or null (then silence alone decides). */
  profileOf(spec: LaunchSpec | null): Profile | null {
    if (!spec) return null;
    return this.profiles.resolve(spec.command, spec.profile)?.profile ?? null;
  }

  /** The name of the profile a session runs under, or null. */
  profileNameOf(spec: LaunchSpec | null): string | null {
    return spec ? this.profiles.resolve(spec.command, spec.profile)?.name ?? null : null;
  }

  /**
   * The activity events of `sessions` as the probe shows them. `panes` are each session's panes
   * from the probe; `hints` what a control client heard since.
   */
  async events(
    sessions: Iterable<{ key: string; snapshot: { value: unknown; context: SessionContext }; pane: PaneRecord | undefined }>,
    hints: OutputHints | undefined,
    now = Date.now(),
  ): Promise<[string, SessionEvent][]> {
    const out: [string, SessionEvent][] = [];
    const quiet: QuietSession[] = [];
    for (const { key, snapshot, pane } of sessions) {
      if (!pane || pane.dead) continue;
      const profile = this.profileOf(snapshot.context.spec);
      const lastOutputAt = lastOutput(pane.activityAt, hints?.lastOutputAt(pane.paneId));
      const event = activityEvent(snapshot.value, snapshot.context, { lastOutputAt, now, quietMs: profile?.quietMs ?? DEFAULT_QUIET_MS });
      if (event === READ_SCREEN) quiet.push({ key, paneId: pane.paneId, profile, lastOutputAt });
      else if (event) out.push([key, event]);
    }
    const withProfile = quiet.filter((q) => q.profile !== null);
    const screens = await this.tmux.captureScreens(withProfile.map((q) => q.paneId)).catch(() => new Map<string, string>());
    for (const q of quiet) {
      const screen = screens.get(q.paneId);
      // A profile whose screen could not be read waits for the next look rather than guess.
      if (q.profile && screen === undefined) continue;
      const event = quietEvent(readScreen(q.profile, screen ?? ''), { lastOutputAt: q.lastOutputAt, now });
      if (event) out.push([q.key, event]);
    }
    return out;
  }
}

/** What a watcher needs to know of a running session's pane between two reconciles. */
export interface PaneWatch {
  /** Output from this pane changes the activity (it is idle, waiting, or held by a signal): look now. */
  wakeOnOutput: boolean;
  /** Busy and quiet-checked: since when (ms); null when quiet decides nothing (idle, waiting, signalled). */
  busySince: number | null;
  /** The pane's `window_activity` at the last probe (ms, whole seconds); see `lastOutput`. */
  activityAt: number | null;
  quietMs: number;
}

/** The panes of running sessions and how a watcher treats their output. */
export function paneWatches(
  reader: ActivityReader,
  sessions: Iterable<{ value: unknown; context: SessionContext }>,
  probed: ReadonlyMap<string, number>,
): Map<string, PaneWatch> {
  const watches = new Map<string, PaneWatch>();
  for (const { value, context } of sessions) {
    const activity = activityIn(value);
    if (activity === null || !context.paneId) continue;
    const signalled = context.activity?.source === 'signal';
    const since = context.activity?.since ? Date.parse(context.activity.since) : 0;
    const busy = activity === 'busy' && !signalled;
    watches.set(context.paneId, {
      wakeOnOutput: !busy,
      busySince: busy ? since || 0 : null,
      activityAt: probed.get(context.paneId) ?? null,
      quietMs: reader.profileOf(context.spec)?.quietMs ?? DEFAULT_QUIET_MS,
    });
  }
  return watches;
}
