/**
 * The session statechart without tmux: `sessionMachine` does no I/O, so another runtime (a
 * container, a remote host, a test double) provides the two services it invokes.
 */
import { randomUUID } from 'node:crypto';
import { createActor, fromPromise, waitFor } from 'xstate';
import { sessionMachine, stateString, type CleanupInput, type LaunchInput, type LaunchOutput } from 'tmux-warden';

/** The "windows" of this runtime: entries in a map, keyed by a window id. */
const windows = new Map<string, { sessionId: string; command: string[] }>();

const inMemory = sessionMachine.provide({
  actors: {
    launchWindow: fromPromise<LaunchOutput, LaunchInput>(async ({ input }) => {
      const windowId = `@mem${windows.size}`;
      windows.set(windowId, { sessionId: input.sessionId, command: input.spec.command });
      return { windowId, paneId: `%mem${windows.size}`, pid: null, dead: false, exitStatus: null };
    }),
    // Like the tmux runtime: remove only what carries this session's id.
    cleanupWindow: fromPromise<void, CleanupInput>(async ({ input }) => {
      for (const [id, window] of windows) if (window.sessionId === input.sessionId) windows.delete(id);
    }),
  },
});

const actor = createActor(inMemory, { input: { key: 'architect' } });
actor.subscribe((snapshot) => console.log(`architect: ${stateString(snapshot.value)}`));
actor.start();

actor.send({
  type: 'SPAWN',
  mode: 'normal',
  sessionId: randomUUID(),
  spec: { command: ['my-agent'], cwd: null, env: {}, labels: {}, group: 'mem', resumeCommand: null },
  at: new Date().toISOString(),
});
await waitFor(actor, (snapshot) => snapshot.matches({ active: 'running' }));
console.log(`windows: ${[...windows.keys()].join(', ')}`);

// What a probe would report if the window disappeared; then the user ends the session.
actor.send({ type: 'WINDOW_GONE' });
actor.send({ type: 'END' });
await waitFor(actor, (snapshot) => snapshot.matches('normal'));
console.log(`windows left: ${windows.size}`);
actor.stop();
