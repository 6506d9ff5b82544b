/** The session object every verb, subscriber and JSON output shows, from a record's snapshot. */
import { activityIn, topState } from '../../machines/paths.js';
import { launchedCommand } from './launch-spec.js';
import type { SessionContext, SessionInfo, SessionState } from '../model/schema.js';

export function sessionInfo(key: string, value: unknown, context: SessionContext, updatedAt: string | null, logFile: string | null = null): SessionInfo {
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
    lastCommand: context.spec && context.sessionId ? launchedCommand(context.spec, context.launch, { sessionId: context.sessionId, key }) : null,
    restarts: context.restarts ?? 0,
    restartPolicy: context.spec?.restart ?? null,
    restartAt: context.restartAt ?? null,
    ...activityInfo(value, context),
    logFile,
    worktree: worktreeInfo(context),
    lastOutput: context.exitStatus === null ? null : context.lastOutput ?? null,
    serverPid: context.server?.pid ?? null,
  };
}

/** The worktree as the session object shows it: where, which branch from which base, made by warden or not. */
export function worktreeInfo(context: SessionContext): SessionInfo['worktree'] {
  const ws = context.workspace;
  return ws ? { path: ws.path, branch: ws.branch, base: ws.base, created: ws.created } : null;
}

/** The public `state` of a state value or dotted path: its top-level state. */
export function topStateOf(value: unknown): SessionState {
  const top = typeof value === 'string' ? value.split('.')[0]! : topState(value);
  return (top || 'normal') as SessionState;
}

/** The activity fields of the session object: null unless the session is running. */
export function activityInfo(value: unknown, context: SessionContext): Pick<SessionInfo, 'activity' | 'activitySince' | 'activitySource'> {
  const activity = activityIn(value);
  if (activity === null) return { activity: null, activitySince: null, activitySource: null };
  // A record written before activity existed rehydrates busy, decided by nothing yet.
  return { activity, activitySince: context.activity?.since || null, activitySource: context.activity?.source ?? 'silence' };
}
