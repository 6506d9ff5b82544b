/**
 * Rehydration at scale: a probe event that can only lead to a state at rest is taken by a pure
 * transition of the machine, without a live actor, and must leave exactly what an actor would.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createActor, fromPromise } from 'xstate';
import { describe, expect, it } from 'vitest';
import { sessionMachine, type CleanupInput, type LaunchInput, type LaunchOutput } from '../machines/session.js';
import { createEngine, type TransitionEvent } from '../src/engine.js';
import { StateDocumentSchema } from '../src/model/schema.js';
import { persistedIn, spec, writeRecord } from './support/snapshots.js';
import { LONG_RUNNING, useTmuxServer } from './support/tmux-server.js';

const server = useTmuxServer('rehydrate');

function readState(file: string) {
  return StateDocumentSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** What a live actor restored from `snapshot` persists after `event`. */
function actorOutcome(snapshot: unknown, key: string, event: { type: 'WINDOW_GONE' }) {
  const machine = sessionMachine.provide({
    actors: {
      launchWindow: fromPromise<LaunchOutput, LaunchInput>(() => new Promise(() => undefined)),
      cleanupWindow: fromPromise<void, CleanupInput>(() => new Promise(() => undefined)),
    },
  });
  const actor = createActor(machine, { snapshot: snapshot as never, input: { key } });
  actor.start();
  actor.send(event);
  const persisted = actor.getPersistedSnapshot();
  actor.stop();
  return persisted;
}

describe('active → orphaned on open, for sessions whose windows are gone', () => {
  it('writes what a live actor would have written, in one commit, and reports each transition', async () => {
    const stateFile = server.stateFile();
    const keys = ['gone-a', 'gone-b', 'gone-c'];
    const before = new Map<string, unknown>();
    for (const key of keys) {
      const snapshot = await persistedIn('active.running', key, spec(LONG_RUNNING), randomUUID());
      await writeRecord(stateFile, key, snapshot, null);
      before.set(key, snapshot);
    }
    const engine = await createEngine({ stateFile, socket: server.socket, reconcileOnOpen: false });
    const heard: TransitionEvent[] = [];
    engine.subscribe((event) => heard.push(event));
    const writes = engine.store.writeCount;
    const result = await engine.reconcile();
    expect(engine.store.writeCount - writes).toBe(1);
    expect(result.transitions.map((t) => [t.key, t.from, t.to, t.event])).toEqual(
      keys.map((key) => [key, 'active.running.busy', 'orphaned', 'WINDOW_GONE']),
    );
    expect(heard).toHaveLength(3);
    const document = readState(stateFile);
    for (const key of keys) {
      expect(document.sessions[key]!.snapshot).toEqual(actorOutcome(before.get(key), key, { type: 'WINDOW_GONE' }));
      expect(engine.get(key)).toMatchObject({ state: 'orphaned', windowId: null, paneId: null, pid: null });
    }
    // Nothing more to do on the next look.
    expect((await engine.reconcile()).transitions).toEqual([]);
    await engine.close();
  });

  it('acts on such a session at once afterwards: resume relaunches it with the same id', async () => {
    const stateFile = server.stateFile();
    const sessionId = randomUUID();
    await writeRecord(stateFile, 'comeback', await persistedIn('active.running', 'comeback', spec(LONG_RUNNING), sessionId), null);
    const engine = await createEngine({ stateFile, socket: server.socket });
    expect(engine.get('comeback')?.state).toBe('orphaned');
    const info = await engine.spawn('comeback', { mode: 'resume' });
    expect(info).toMatchObject({ state: 'active', sessionId });
    await engine.close();
  });
});
