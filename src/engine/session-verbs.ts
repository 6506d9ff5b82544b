/**
 * Spawn and end, as the façade runs them: validate, ask the machine whether it takes the event
 * (its refusals, named), send it, and resolve once the outcome is durable.
 */
import { randomUUID } from 'node:crypto';
import { isActive, isEnding, isNormal, isOrphaned, isRunning } from '../../machines/paths.js';
import { endEvent, spawnRefusal, type Refusal } from '../../machines/refusals.js';
import type { SessionEvent } from '../../machines/session.js';
import { ConflictError, InvalidInputError, NotFoundError, WardenError, toErrorData } from '../model/errors.js';
import { resolve as resolvePath } from 'node:path';
import {
  SpawnModeSchema,
  type LaunchSpec,
  type SessionInfo,
  type SessionRecord,
  type Workspace,
  type WorktreeRemoval,
  type WorktreeRequest,
} from '../model/schema.js';
import type { EngineCore } from './core.js';
import { buildSpec, differingFields, validateKey } from './launch-spec.js';
import { sessionInfo } from './session-info.js';
import type { EndOptions, GcResult, ReconcileResult, SpawnOptions } from './types.js';

function refused(refusal: Refusal): WardenError {
  return refusal.kind === 'not-found' ? new NotFoundError(refusal.message) : new ConflictError(refusal.message);
}

/** A cleanup that failed and waits for a RETRY. */
function failedCleanup(record: SessionRecord | null): boolean {
  return record !== null && isEnding(record.snapshot.value) && record.snapshot.context.error !== null;
}

export async function spawnSession(
  core: EngineCore,
  key: string,
  options: SpawnOptions,
  checks: { assertUsable(key: string): void; require(key: string): SessionInfo },
): Promise<SessionInfo> {
  core.assertOpen();
  validateKey(key);
  const modeParsed = SpawnModeSchema.safeParse(options.mode ?? 'normal');
  if (!modeParsed.success) {
    throw new InvalidInputError(`unknown mode ${JSON.stringify(options.mode)}: use normal, resume, fresh or ensure`);
  }
  const mode = modeParsed.data;
  if (options.profile && !core.activity.profiles.get(options.profile)) {
    throw new InvalidInputError(`unknown profile ${JSON.stringify(options.profile)}: use one of ${core.activity.profiles.names().join(', ')} (or add it to the config file)`);
  }
  await core.sync();
  checks.assertUsable(key);
  const current = core.machineSnapshot(key);
  const stored = core.view.record(key)?.snapshot.context.spec ?? null;
  const currentId = core.view.record(key)?.snapshot.context.sessionId ?? null;
  // Resume and ensure keep the session (and its id) when there is one; ensure starts one otherwise.
  const keeps = (mode === 'resume' || mode === 'ensure') && !isNormal(current.value);
  const sessionId = keeps && currentId ? currentId : randomUUID();
  const ask = { type: 'SPAWN' as const, mode, sessionId, spec: stored!, at: new Date().toISOString() };
  const refusal = spawnRefusal(current, ask, key);
  if (refusal && (mode === 'normal' || refusal.kind === 'not-found')) throw refused(refusal);
  if (keeps && stored) {
    // Resume and ensure keep what the session was started with: the same options are accepted,
    // other ones would be dropped silently, so they are a conflict naming the way to apply them.
    const differs = differingFields(options, stored);
    if (differs.length > 0) {
      throw new ConflictError(
        `${key} runs with another ${differs.join(', ')}: use --mode fresh to restart it with the new one (--mode ${mode} keeps the stored one)`,
      );
    }
  }
  if (refusal) throw refused(refusal);
  // A fresh restart may reuse the stored command, as `pm2 restart` does; a new session needs one.
  if (!stored && !(options.command && options.command.length)) {
    throw new InvalidInputError(`spawn ${key}: a command is required after --`);
  }
  const planned = keeps ? null : await planWorkspace(core, key, options, stored, current.context.workspace ?? null);
  // A session in a worktree runs there, not in the stored cwd (which may be gone): the worktree's
  // repository stands in for it until the worktree's own path replaces it below.
  const built = buildSpec(key, keeps ? { resumeCommand: options.resumeCommand } : { ...options, cwd: planned ? planned.workspace.repo : options.cwd }, stored, core.group);
  // A session with a worktree runs in it; the request is kept so a fresh restart asks again.
  const spec = planned
    ? { ...built, cwd: planned.workspace.path, worktree: planned.request }
    : { ...built, worktree: keeps ? stored?.worktree ?? null : null };
  const spawnEvent: SessionEvent = { ...ask, spec, workspace: planned?.workspace ?? null };
  if (keeps && isRunning(current.value)) {
    // Nothing to do: the machine takes it without changing anything, so nothing is written.
    core.dispatch(key, spawnEvent);
    return checks.require(key);
  }
  const settled = core.writes.whenDurable(
    key,
    (record) =>
      record === null ||
      failedCleanup(record) ||
      (isActive(record.snapshot.value) && record.snapshot.context.sessionId === sessionId),
  );
  core.dispatch(key, spawnEvent);
  const { record, context } = await settled;
  if (record === null) {
    const failed = context?.error ?? { code: 'SPAWN_FAILED', message: 'the window did not come up', stderr: '' };
    throw new WardenError('SPAWN_FAILED', `spawn of ${key} failed: ${failed.message}`, { stderr: failed.stderr });
  }
  if (failedCleanup(record)) {
    // A fresh restart whose old window could not be cleaned up: the new session waits in context.
    const error = record.snapshot.context.error!;
    throw new WardenError(
      'TMUX_FAILED',
      `could not end the old session of ${key} (${error.message}): it stays ending and the restart is retried on the next 'warden ls'`,
      { stderr: error.stderr },
    );
  }
  const { snapshot } = record;
  return sessionInfo(key, snapshot.value, snapshot.context, record.updatedAt, core.logs.logFile(key, snapshot.context.sessionId));
}

/**
 * The worktree a spawn asks for (given, or for a fresh restart the stored request), planned: made
 * by warden, or the one already there. A fresh restart hands the old session's worktree on as it is.
 */
async function planWorkspace(
  core: EngineCore,
  key: string,
  options: SpawnOptions,
  stored: LaunchSpec | null,
  current: Workspace | null,
): Promise<{ request: WorktreeRequest; workspace: Workspace } | null> {
  let request: WorktreeRequest | null | undefined = stored?.worktree;
  if (options.worktree !== undefined) {
    if (options.worktree === null) return null;
    if (options.cwd) throw new InvalidInputError(`spawn ${key}: a session with --worktree runs in its worktree: drop --cwd (use --repo to name the repository)`);
    const { branch = null, base = null, repo } = options.worktree;
    request = { repo: resolvePath(repo ?? process.cwd()), branch, base };
  }
  if (!request) return null;
  const workspace = await core.workspaces.plan(key, request);
  if (current && current.path === workspace.path && current.branch === workspace.branch) {
    return { request, workspace: { ...current, ready: false, disposal: undefined, removal: null } };
  }
  return { request, workspace };
}

/** The session ended but its worktree was kept with work in it (`WORKTREE_KEPT`, exit 3). */
export class WorktreeKeptError extends WardenError {
  override readonly name = 'WorktreeKeptError';
  constructor(
    message: string,
    /** The ended session, as `end` would have returned it. */
    readonly session: SessionInfo,
    readonly removal: WorktreeRemoval,
  ) {
    super('WORKTREE_KEPT', message);
  }
}

/** `end`, but only if the session (as now in the file) passes `accept`; null when it did not. */
export async function endSession(
  core: EngineCore,
  key: string,
  accept: (current: SessionInfo) => boolean,
  checks: { assertUsable(key: string): void; get(key: string): SessionInfo | undefined },
  options: EndOptions = {},
): Promise<SessionInfo | null> {
  core.assertOpen();
  validateKey(key);
  await core.sync();
  checks.assertUsable(key);
  const before = checks.get(key);
  if (!before) throw new NotFoundError(`no session ${key}: 'warden ls' lists them`);
  if (!accept(before)) return null;
  const asked = endEvent(core.machineSnapshot(key), key);
  if (!('type' in asked)) throw refused(asked);
  const event: SessionEvent = asked.type === 'END' && options.worktree ? { type: 'END', worktree: options.worktree } : asked;
  // A retried cleanup of a fresh restart goes on to spawn the new session instead of ending.
  const restarted = (record: SessionRecord | null) => record !== null && !isEnding(record.snapshot.value);
  const settled = core.writes.whenDurable(key, (record) => record === null || failedCleanup(record) || restarted(record));
  core.dispatch(key, event);
  const { record, context } = await settled;
  if (restarted(record)) {
    throw new ConflictError(`${key} went on with its pending --mode fresh restart instead: run 'warden end ${key}' again once it is active`);
  }
  if (record) {
    const error = record.snapshot.context.error!;
    throw new WardenError(
      'TMUX_FAILED',
      `could not clean up ${key} (${error.message}): it stays ending and is retried on the next 'warden ls'`,
      { stderr: error.stderr },
    );
  }
  const ended: SessionInfo = { ...before, state: 'normal', updatedAt: new Date().toISOString() };
  const ws = context?.workspace;
  if (ws?.removal && !ws.removal.removed && ws.created && (ws.disposal ?? 'guarded') === 'guarded') {
    throw new WorktreeKeptError(
      `${key} ended, but its worktree is kept: ${ws.removal.kept}: commit and push what is in it, then 'git -C ${ws.repo} worktree remove ${ws.path}'`,
      ended,
      ws.removal,
    );
  }
  return ended;
}

/**
 * `gc`: ends every orphaned session after the probe `probe` (or with `dryRun` only lists them).
 * A session that stopped being orphaned in the meantime is left alone; a cleanup that fails is
 * reported in `failed` and the others still go ahead.
 */
export async function collectOrphans(
  core: EngineCore,
  probe: ReconcileResult,
  options: { dryRun?: boolean },
  checks: { assertUsable(key: string): void; get(key: string): SessionInfo | undefined },
): Promise<GcResult> {
  if (probe.probe === 'unknown') {
    // An orphan whose window came back would be ended: gc acts only on a fresh answer.
    if (probe.error?.code === 'TMUX_NOT_FOUND') throw new WardenError('TMUX_NOT_FOUND', probe.error.message);
    throw new WardenError('TMUX_FAILED', `tmux did not answer (${probe.error?.message ?? 'no answer'}): gc ended nothing, try again`);
  }
  const orphaned = core.view
    .keys()
    .sort()
    .filter((key) => !core.view.problem(key) && isOrphaned(core.view.record(key)!.snapshot.value))
    .map((key) => checks.get(key)!);
  const result: GcResult = { sessions: options.dryRun ? orphaned : [], failed: [], logsRemoved: [] };
  if (options.dryRun) return result;
  for (const info of orphaned) {
    try {
      const stillOrphaned = (current: SessionInfo) =>
        current.sessionId === info.sessionId && isOrphaned(core.view.record(info.key)?.snapshot.value);
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
