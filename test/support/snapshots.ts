/**
 * Persisted snapshots in any state, made by the pure machine with stub services, to stand in for
 * what a process killed at that moment would have left in the state file.
 */
import { hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import { createActor, fromPromise, waitFor as waitForActor } from 'xstate';
import {
  SESSION_MACHINE_VERSION,
  sessionMachine,
  type CleanupInput,
  type LaunchInput,
  type LaunchOutput,
} from '../../machines/session.js';
import { isRunning } from '../../machines/paths.js';
import type { LaunchSpec, PersistedSnapshot, RecordOwner } from '../../src/model/schema.js';
import { StateStore } from '../../src/store.js';

export function spec(command: string[], overrides: Partial<LaunchSpec> = {}): LaunchSpec {
  return { command, cwd: null, env: {}, labels: {}, group: 'warden', resumeCommand: null, ...overrides };
}

/** The pid of a process that has exited: an owner that is certainly gone. */
export function deadOwner(): RecordOwner {
  return { pid: spawnSync('true').pid, host: hostname() };
}

/**
 * A persisted snapshot left in `target` (`spawning`, `active.running`, `ending`) for the given
 * session id; `window` is what the launch reported, when the target is past spawning.
 */
export async function persistedIn(
  target: 'spawning' | 'active.running' | 'ending',
  key: string,
  launchSpec: LaunchSpec,
  sessionId: string,
  window: LaunchOutput = { windowId: '@999', paneId: '%999', pid: 1, dead: false, exitStatus: null },
): Promise<PersistedSnapshot> {
  const machine = sessionMachine.provide({
    actors: {
      launchWindow: fromPromise<LaunchOutput, LaunchInput>(() =>
        target === 'spawning' ? new Promise(() => undefined) : Promise.resolve(window),
      ),
      cleanupWindow: fromPromise<void, CleanupInput>(() => new Promise(() => undefined)),
    },
  });
  const actor = createActor(machine, { input: { key } });
  actor.start();
  actor.send({ type: 'SPAWN', mode: 'normal', sessionId, spec: launchSpec, at: new Date().toISOString() });
  if (target !== 'spawning') {
    await waitForActor(actor, (s) => isRunning(s.value));
    if (target === 'ending') actor.send({ type: 'END' });
  }
  const snapshot = actor.getPersistedSnapshot() as unknown as PersistedSnapshot;
  actor.stop();
  return snapshot;
}

/** Writes a record as a process that died right after writing it would have left it. */
export async function writeRecord(
  stateFile: string,
  key: string,
  snapshot: PersistedSnapshot,
  owner: RecordOwner | null = deadOwner(),
): Promise<void> {
  const store = new StateStore(stateFile);
  const document = await store.load();
  const current = document.sessions[key];
  const result = await store.commit([
    {
      key,
      expect: current ? { rev: current.rev, updatedAt: current.updatedAt } : null,
      record: { machineVersion: SESSION_MACHINE_VERSION, snapshot, owner },
    },
  ]);
  if (!result.applied.has(key)) throw new Error(`could not write the ${key} record`);
}
