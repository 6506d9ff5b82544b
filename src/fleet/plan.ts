/**
 * `up` as a pure function: what the sessions file asks for against what the engine holds, as one
 * step per session. Nothing here touches tmux or the state file.
 */
import { isDeepStrictEqual } from 'node:util';
import type { LaunchSpec, SessionInfo } from '../model/schema.js';
import { FLEET_LABEL, type DesiredSession } from './load.js';

/**
 * - `start`: no session yet; `resume`: exited or orphaned with the same spec (same session id);
 * - `restart`: the spec changed, so a new session replaces it; `leave`: it runs as asked;
 * - `end`: started from this file, no longer in it (`--prune`), or `down`.
 */
export type FleetAction = 'start' | 'resume' | 'restart' | 'leave' | 'end';

export interface FleetStep {
  key: string;
  action: FleetAction;
  /** Why, in a few words: `running`, `orphaned`, `command, env changed`, `not in the file`. */
  reason: string;
  /** The fields of the spec that changed (`restart` only). */
  changed: string[];
}

/** What the engine holds of one key. */
export interface CurrentSession {
  info: SessionInfo;
  spec: LaunchSpec | undefined;
}

/**
 * The fields in which `stored` differs from what is asked for (the restart policy compared with its
 * defaults applied). A session in a worktree runs in the worktree, not in `cwd`: its request is
 * compared instead.
 */
export function specChanges(desired: LaunchSpec, stored: LaunchSpec): string[] {
  const fields = ['command', 'cwd', 'env', 'passEnv', 'labels', 'group', 'resumeCommand', 'restart', 'profile', 'worktree'] as const;
  return fields.filter((field) => {
    if (field === 'cwd' && desired.worktree && stored.worktree) return false;
    return !isDeepStrictEqual(desired[field] ?? null, stored[field] ?? null);
  });
}

/** How a person reads the state of a session that is not running. */
function stateWord(info: SessionInfo): string {
  if (info.state === 'active') return info.exitStatus === null ? 'running' : `exited ${info.exitStatus}`;
  return info.state;
}

/**
 * The steps that make the engine match `desired`. `keys` limits the plan to those keys; `prune`
 * ends sessions labelled as started from `file` that the file no longer names (never others).
 */
export function planUp(
  file: string,
  desired: readonly DesiredSession[],
  current: ReadonlyMap<string, CurrentSession>,
  options: { keys?: readonly string[]; prune?: boolean } = {},
): FleetStep[] {
  const wanted = (key: string) => !options.keys?.length || options.keys.includes(key);
  const steps: FleetStep[] = [];
  for (const { key, spec } of desired) {
    if (!wanted(key)) continue;
    const now = current.get(key);
    if (!now || now.info.state === 'normal') {
      steps.push({ key, action: 'start', reason: 'not running', changed: [] });
      continue;
    }
    const changed = now.spec ? specChanges(spec, now.spec) : ['command'];
    if (changed.length > 0) steps.push({ key, action: 'restart', reason: `${changed.join(', ')} changed`, changed });
    else if (now.info.state === 'active' && now.info.exitStatus === null) steps.push({ key, action: 'leave', reason: 'running', changed: [] });
    else if (now.info.state === 'spawning' || now.info.state === 'ending') steps.push({ key, action: 'leave', reason: now.info.state, changed: [] });
    else steps.push({ key, action: 'resume', reason: stateWord(now.info), changed: [] });
  }
  if (options.prune) {
    const named = new Set(desired.map((d) => d.key));
    for (const [key, { info }] of [...current].sort(([a], [b]) => a.localeCompare(b))) {
      if (named.has(key) || !wanted(key) || info.labels[FLEET_LABEL] !== file) continue;
      steps.push({ key, action: 'end', reason: 'not in the file', changed: [] });
    }
  }
  return steps;
}

/** `down`: end the file's sessions that exist (limited to `keys` when given). */
export function planDown(desired: readonly DesiredSession[], current: ReadonlyMap<string, CurrentSession>, keys: readonly string[] = []): FleetStep[] {
  return desired
    .filter(({ key }) => (!keys.length || keys.includes(key)) && current.has(key))
    .map(({ key }) => ({ key, action: 'end' as const, reason: stateWord(current.get(key)!.info), changed: [] }));
}
