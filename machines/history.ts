/**
 * Which transitions end a session id, and the history entry they leave: pure, beside the machine.
 */
import type { HistoryEntry, SessionContext, Workspace } from '../src/model/schema.js';
import { isEnding, isNormal, isSpawning } from './paths.js';

/**
 * The history entry a transition `from` → `to` leaves, or null. An `ending` that reaches `normal`
 * ended the old session id (`ended`), one that goes on `spawning` replaced it (`replaced`); a
 * `spawning` that falls back to `normal` failed (`spawn-failed`).
 */
export function historyEntryFor(
  from: { value: unknown; context: SessionContext },
  to: { value: unknown; context: SessionContext },
  at: string,
  defaultGroup: string,
): HistoryEntry | null {
  if (isEnding(from.value) && from.context.sessionId && (isNormal(to.value) || isSpawning(to.value))) {
    return entry(from.context, isNormal(to.value) ? 'ended' : 'replaced', at, defaultGroup);
  }
  if (isSpawning(from.value) && isNormal(to.value) && to.context.sessionId) {
    return entry(to.context, 'spawn-failed', at, defaultGroup);
  }
  return null;
}

function entry(context: SessionContext, reason: HistoryEntry['reason'], at: string, defaultGroup: string): HistoryEntry {
  return {
    key: context.key,
    sessionId: context.sessionId!,
    command: context.spec?.command ?? [],
    cwd: context.spec?.cwd ?? null,
    group: context.spec?.group ?? defaultGroup,
    labels: context.spec?.labels ?? {},
    createdAt: context.createdAt,
    endedAt: at,
    reason,
    exitStatus: context.exitStatus,
    error: context.error,
    ...(context.workspace ? { worktree: historyWorktree(context.workspace) } : {}),
  };
}

/** What history keeps of a worktree: where it is and what the end did with it (null: not done, e.g. handed to a restart). */
function historyWorktree(ws: Workspace): NonNullable<HistoryEntry['worktree']> {
  return { repo: ws.repo, path: ws.path, branch: ws.branch, base: ws.base, created: ws.created, removal: ws.removal ?? null };
}
