/**
 * The write-behind's promise to `settle()` (and so to `reconcile()` and `ls`): once a flush has
 * ended and it says it is idle, every change it was given is durable. A pure unit test over a
 * real file store whose commits the test holds and releases, so the order is exact.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runsService } from '../machines/paths.js';
import { sessionMachine } from '../machines/session.js';
import { ActorPool } from '../src/engine/actor-pool.js';
import { DurableView } from '../src/engine/durable-view.js';
import { WriteBehind } from '../src/engine/write-behind.js';
import { StateStore } from '../src/store/file-store.js';
import { persistedIn, spec } from './support/snapshots.js';
import { storeWithCommit } from './support/store.js';
import { waitFor } from './support/tmux-server.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-write-behind-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file store whose commits wait until the test releases them, one by one. */
function heldStore(file: string) {
  const store = new StateStore(file);
  const held: { keys: string[]; release: () => void }[] = [];
  const gated = storeWithCommit(store, async (ops) => {
    await new Promise<void>((release) => held.push({ keys: ops.map((op) => op.key), release }));
    return store.commit(ops);
  });
  return { store, gated, held };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('write-behind', () => {
  it('is not idle while a commit queued behind a flush is still being written', async () => {
    const file = join(dir, 'state.json');
    const { store, gated, held } = heldStore(file);
    const view = new DurableView(gated, () => undefined, sessionMachine);
    await view.load();
    const pool = new ActorPool({ machine: sessionMachine, inspect: undefined, snapshotOf: () => undefined, onStep: () => undefined, onFailure: () => undefined });
    const writes = new WriteBehind({
      store: gated,
      view,
      pool,
      group: 'warden',
      logFileOf: () => null,
      owner: () => ({ pid: process.pid, host: 'here', bootId: null, startTicks: null }),
      onConflict: () => undefined,
      runsService,
    });
    const a = await persistedIn('active.running', 'a', spec(['sleep', '600']), randomUUID());
    const b = await persistedIn('active.running', 'b', spec(['sleep', '600']), randomUUID());

    // A caller's flush takes a's change and is held in its commit; the flush a's step scheduled
    // queues behind it with nothing left to take.
    writes.takePureStep('a', a, null);
    const flushed = writes.flush();
    await waitFor(() => held.length === 1, "a's commit to start");
    await turn();
    // b changes while a's commit is being written: the scheduled flush will take it.
    writes.takePureStep('b', b, null);
    await turn();
    held[0]!.release();
    await flushed;
    await waitFor(() => held.length === 2, "b's commit to start");
    expect(held[1]!.keys).toEqual(['b']);
    // The caller's flush has ended, but b is not durable yet: whoever waits for idle must wait on.
    expect(writes.idle).toBe(false);
    held[1]!.release();
    await waitFor(() => writes.idle, 'the write-behind to be idle');
    expect(Object.keys((await store.load()).sessions).sort()).toEqual(['a', 'b']);
  });
});
