/** Carrying out a plan of `up` or `down` through the engine's public API, one step at a time. */
import type { Engine } from '../engine.js';
import { toErrorData } from '../model/errors.js';
import { describeContents } from '../engine/workspaces.js';
import { ConflictError } from '../model/errors.js';
import type { ErrorData, LaunchSpec, SessionInfo, Workspace, WorktreeRequest } from '../model/schema.js';
import type { CurrentSession, FleetStep } from './plan.js';
import type { DesiredSession } from './load.js';

/** What one step came to: the session afterwards (ended: state `normal`), or the error. */
export interface StepResult {
  step: FleetStep;
  session: SessionInfo | null;
  error: ErrorData | null;
}

/** What the engine holds of every key, for the planner. */
export function currentSessions(engine: Engine): Map<string, CurrentSession> {
  return new Map(engine.list().map((info) => [info.key, { info, spec: engine.launchSpec(info.key) }]));
}

/** Spawn options that ask for exactly `spec`: a cleared resume command and restart policy included. */
function optionsFor(spec: LaunchSpec) {
  return {
    command: spec.command,
    // A session in a worktree runs there: the worktree's repository stands for the cwd.
    cwd: spec.worktree ? null : spec.cwd,
    worktree: spec.worktree ?? null,
    env: spec.env,
    passEnv: spec.passEnv ?? [],
    labels: spec.labels,
    // null clears a profile the file no longer names; left out, the stored one would be kept.
    profile: spec.profile ?? null,
    group: spec.group,
    resumeCommand: spec.resumeCommand ?? '',
    restart: spec.restart ?? null,
  };
}

/**
 * A session in a worktree asked for another one (another branch, base or repository). A fresh
 * restart keeps its worktree, and the new one would be planned where the old one stands: the
 * session is ended (its worktree going as `end` takes one) and started in a new worktree. Only
 * once the new request is known to be good, and the old worktree to hold nothing of its own:
 * otherwise nothing is touched and the step says why.
 */
async function replaceWorktree(engine: Engine, key: string, spec: LaunchSpec, request: WorktreeRequest): Promise<SessionInfo> {
  const stored = engine.launchSpec(key)!.worktree!;
  const old = engine.get(key)?.worktree;
  let planned: Workspace | null = null;
  try {
    planned = await engine.workspaces.plan(key, request);
  } catch (err) {
    // The one conflict expected: the old worktree standing where the new one goes.
    if (!(err instanceof ConflictError && old && err.message.startsWith(`${old.path} is already a worktree`))) throw err;
  }
  // Asked for by another name (`true` and `warden/KEY`): the same worktree, which a fresh restart keeps.
  if (planned && old && planned.path === old.path && planned.branch === old.branch) {
    return engine.spawn(key, { mode: 'fresh', ...optionsFor(spec) });
  }
  if (old?.created) {
    const workspace: Workspace = { repo: stored.repo, ...old, newBranch: false, ready: true };
    const held = describeContents(await engine.workspaces.contents(workspace));
    if (held) {
      throw new ConflictError(
        `${key} runs in ${old.path}, which holds ${held}: commit and push it (or 'warden end ${key} --discard'), then 'warden up' again; ${key} was left running`,
      );
    }
  }
  await engine.end(key);
  return engine.spawn(key, { mode: 'ensure', ...optionsFor(spec) });
}

/** Runs each step; a step that fails is reported and the others still run. */
export async function applyPlan(engine: Engine, steps: readonly FleetStep[], desired: readonly DesiredSession[]): Promise<StepResult[]> {
  const specs = new Map(desired.map((d) => [d.key, d.spec]));
  const results: StepResult[] = [];
  for (const step of steps) {
    try {
      const spec = specs.get(step.key);
      let session: SessionInfo | null;
      if (step.action === 'end') session = await engine.end(step.key);
      else if (step.action === 'leave') session = engine.get(step.key) ?? null;
      else if (step.action === 'restart' && step.changed.includes('worktree') && spec?.worktree && engine.launchSpec(step.key)?.worktree) {
        session = await replaceWorktree(engine, step.key, spec, spec.worktree);
      } else session = await engine.spawn(step.key, { mode: step.action === 'restart' ? 'fresh' : 'ensure', ...optionsFor(spec!) });
      results.push({ step, session, error: null });
    } catch (err) {
      results.push({ step, session: engine.get(step.key) ?? null, error: toErrorData(err) });
    }
  }
  return results;
}
