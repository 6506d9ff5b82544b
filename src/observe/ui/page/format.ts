/** How the page words things: ages, states, labels. The words carry the meaning; colour only adds to it. */
import { age } from '../../../model/age.js';
import type { SessionView } from '../protocol.js';

/** `active.running` → `active › running`. */
export function pathWords(path: string): string {
  return path.split('.').join(' › ');
}

/** The state as `warden ls` says it: an active session is `running` or `exited`. */
export function stateWord(s: SessionView): string {
  const leaf = s.statePath.split('.');
  return s.state === 'active' ? (leaf[1] ?? 'active') : s.state;
}

export function activityWords(s: SessionView, now = Date.now()): string {
  if (!s.activity) return '-';
  return s.activitySince ? `${s.activity} for ${age(s.activitySince, now)}` : s.activity;
}

export function labelWords(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return pairs.length ? pairs.join(' ') : '-';
}

export function branchOf(s: SessionView): string {
  return s.worktree?.branch ?? '-';
}

/** What a filter matches against: key, state, activity, labels, branch, command. */
export function searchText(s: SessionView): string {
  return [s.key, s.statePath, stateWord(s), s.activity ?? '', labelWords(s.labels), branchOf(s), s.command.join(' ')].join(' ').toLowerCase();
}
