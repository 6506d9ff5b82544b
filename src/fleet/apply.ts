/** Carrying out a plan of `up` or `down` through the engine's public API, one step at a time. */
import type { Engine } from '../engine.js';
import { toErrorData } from '../model/errors.js';
import type { ErrorData, LaunchSpec, SessionInfo } from '../model/schema.js';
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

/** A restart that asks a session in a worktree for another one (a fresh restart keeps its worktree). */
function replacesWorktree(engine: Engine, step: FleetStep): boolean {
  return step.changed.includes('worktree') && Boolean(engine.launchSpec(step.key)?.worktree);
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
      else if (step.action === 'restart' && replacesWorktree(engine, step)) {
        // Another branch, base or repository is another worktree, where the old one stands: the
        // old goes as `end` takes it (kept, and the step fails, if it holds work), then a new one.
        await engine.end(step.key);
        session = await engine.spawn(step.key, { mode: 'ensure', ...optionsFor(spec!) });
      } else session = await engine.spawn(step.key, { mode: step.action === 'restart' ? 'fresh' : 'ensure', ...optionsFor(spec!) });
      results.push({ step, session, error: null });
    } catch (err) {
      results.push({ step, session: engine.get(step.key) ?? null, error: toErrorData(err) });
    }
  }
  return results;
}
