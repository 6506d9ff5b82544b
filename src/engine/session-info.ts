/** The session object every verb, subscriber and JSON output shows, from a record's snapshot. */
import { topState } from '../../machines/paths.js';
import type { SessionContext, SessionInfo, SessionState } from '../model/schema.js';

export function sessionInfo(key: string, value: unknown, context: SessionContext, updatedAt: string | null): SessionInfo {
  return {
    key,
    state: topStateOf(value),
    sessionId: context.sessionId,
    group: context.spec?.group ?? null,
    windowId: context.windowId,
    paneId: context.paneId,
    pid: context.pid,
    command: context.spec?.command ?? [],
    cwd: context.spec?.cwd ?? null,
    labels: context.spec?.labels ?? {},
    createdAt: context.createdAt,
    updatedAt,
    exitStatus: context.exitStatus,
  };
}

/** The public `state` of a state value or dotted path: its top-level state. */
export function topStateOf(value: unknown): SessionState {
  const top = typeof value === 'string' ? value.split('.')[0]! : topState(value);
  return (top || 'normal') as SessionState;
}
