/** `gc`: end every orphaned session, after one reconcile, as the façade runs it. */
import { isOrphaned } from '../../machines/paths.js';
import { WardenError, toErrorData } from '../model/errors.js';
import type { SessionInfo } from '../model/schema.js';
import type { EngineCore } from './core.js';
import { sessionInfo } from './session-info.js';
import { endSession, WorktreeKeptError } from './session-verbs.js';
import type { GcResult, ReconcileResult } from './types.js';

/**
 * Ends every orphaned session (after one reconcile), or with `dryRun` only lists them. A session
 * that stopped being orphaned in the meantime (adopted, resumed elsewhere) is left alone; a
 * cleanup that fails is reported in `failed` and the others still go ahead.
 */
export async function collectOrphans(
  core: EngineCore,
  reconcile: () => Promise<ReconcileResult>,
  checks: { assertUsable(key: string): void; get(key: string): SessionInfo | undefined },
  options: { dryRun?: boolean },
): Promise<GcResult> {
  const probe = await reconcile();
  if (probe.probe === 'unknown') {
    // An orphan whose window came back would be ended: gc acts only on a fresh answer.
    if (probe.error?.code === 'TMUX_NOT_FOUND') throw new WardenError('TMUX_NOT_FOUND', probe.error.message);
    throw new WardenError('TMUX_FAILED', `tmux did not answer (${probe.error?.message ?? 'no answer'}): gc ended nothing, try again`);
  }
  const orphaned = core.view
    .keys()
    .sort()
    .filter((key) => !core.view.problem(key) && isOrphaned(core.view.record(key)!.snapshot.value))
    .map((key) => {
      const record = core.view.record(key)!;
      return sessionInfo(key, record.snapshot.value, record.snapshot.context, record.updatedAt);
    });
  if (options.dryRun) return { sessions: orphaned, failed: [], logsRemoved: [] };
  const result: GcResult = { sessions: [], failed: [], logsRemoved: [] };
  for (const info of orphaned) {
    try {
      const stillOrphaned = (current: SessionInfo) => current.sessionId === info.sessionId && isOrphaned(core.view.record(info.key)?.snapshot.value);
      const ended = await endSession(core, info.key, stillOrphaned, checks);
      if (ended) result.sessions.push(ended);
    } catch (err) {
      // Ended, its worktree kept because it holds work: `gc` reports those worktrees itself.
      if (err instanceof WorktreeKeptError) result.sessions.push(err.session);
      else result.failed.push({ key: info.key, error: toErrorData(err) });
    }
  }
  return { ...result, logsRemoved: await core.upkeep.retain() };
}
