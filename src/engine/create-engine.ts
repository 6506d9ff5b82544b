/**
 * The composition root: the only place that builds concrete adapters (the local tmux transport,
 * the lowdb file store) and wires the engine's collaborators over them.
 */
import { sessionMachine } from '../../machines/session.js';
import { ProfileBook, ProfilesSchema } from '../activity/profiles.js';
import { InvalidInputError } from '../model/errors.js';
import { formatIssue } from '../model/issues.js';
import { defaultLogDirectory } from '../logs/paths.js';
import { SessionLogs } from '../logs/session-logs.js';
import { GroupSchema } from '../model/schema.js';
import { StateStore } from '../store/file-store.js';
import { defaultStatePath } from '../store/paths.js';
import { Tmux } from '../tmux/commands.js';
import { defaultLaunchDir } from '../tmux/launch-env.js';
import { LocalTransport } from '../tmux/transport.js';
import { Watcher } from '../watch/watcher.js';
import { GitWorkspaces } from '../workspace/worktrees.js';
import { EngineCore } from './core.js';
import { Engine } from './engine.js';
import { DEFAULT_END_GRACE_MS, DEFAULT_GROUP, type EngineOptions } from './types.js';

/** Builds an engine without opening it (no file read, no tmux call). */
export function composeEngine(options: EngineOptions = {}): Engine {
  const stateFile = options.stateFile ?? defaultStatePath();
  const socket = typeof options.socket === 'string' ? { name: options.socket } : options.socket;
  const transport = options.transport ?? new LocalTransport({ socket, bin: options.tmuxBin });
  const tmux = new Tmux({ transport, timeoutMs: options.tmuxTimeoutMs });
  const store = options.store ?? new StateStore(stateFile);
  const { directory: logDirectory, ...logSettings } = options.logs ?? {};
  const logs = new SessionLogs(logDirectory ?? defaultLogDirectory(stateFile), logSettings);
  const core = new EngineCore({
    stateFile,
    group: GroupSchema.parse(options.group ?? DEFAULT_GROUP),
    tmux,
    store,
    logs,
    probeTimeoutMs: options.probeTimeoutMs ?? 5000,
    inspect: options.inspect,
    onTransition: options.onTransition,
    outbox: options.outbox,
    machine: options.machine ?? sessionMachine,
    profiles: profileBook(options.profiles),
    workspaces: options.workspaces ?? new GitWorkspaces({ dir: options.worktreeDir, bin: options.gitBin }),
    services: { launchDir: defaultLaunchDir(), endGraceMs: options.endGraceMs ?? DEFAULT_END_GRACE_MS },
  });
  return new Engine(core, (watched) => new Watcher(watched));
}

/** The built-in profiles with the user's, validated. */
function profileBook(profiles: EngineOptions['profiles']): ProfileBook {
  const parsed = ProfilesSchema.safeParse(profiles ?? {});
  if (!parsed.success) throw new InvalidInputError(formatIssue(parsed.error, { subject: 'profiles' }));
  return new ProfileBook(parsed.data);
}

/**
 * Opens an engine on a state file: rehydrates every session (resuming work a dead process left
 * in `spawning` or `ending`), then reconciles once with tmux. Close it with `close()`.
 * @throws StateFileError when the state file cannot be read or does not validate (it is left as
 * it is); a WardenError from tmux when the first reconcile cannot run. Nothing is left running.
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const engine = composeEngine(options);
  try {
    // Abandoned spawns and cleanups are resumed by the first reconcile that reaches tmux: resumed
    // without tmux (missing from PATH), a launch would fail and roll its record back.
    await engine.open({ resume: false });
    if (options.reconcileOnOpen !== false) await engine.reconcile();
  } catch (err) {
    // Work resumed while opening must not outlive an engine nobody will get to close.
    await engine.close().catch(() => undefined);
    throw err;
  }
  return engine;
}
