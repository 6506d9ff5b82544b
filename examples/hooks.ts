/**
 * A long-running embedder: hooks from a config object, a continuous watch, and a clean stop.
 * A session exits with status 3; the watch sees it; the `active.exited` hook gets the status.
 */
import { HookRunner, createEngine, parseHooksConfig } from 'tmux-warden';

const hooks = new HookRunner(
  parseHooksConfig({
    hooks: { 'active.exited': 'echo "$WARDEN_KEY exited with status $WARDEN_EXIT_STATUS" >&2; exit 1' },
  }),
  { onResult: (result) => console.log(`hook: ${result.message}`) },
);

// onTransition is subscribed before the engine opens: hooks hear what opening changes, too.
const engine = await createEngine({
  stateFile: process.env.WARDEN_STATE,
  socket: process.env.WARDEN_TMUX_SOCKET,
  onTransition: hooks.listener,
});

const stopWatching = new AbortController();
const watching = engine.watch({ intervalMs: 100, signal: stopWatching.signal });
engine.subscribe((t) => {
  console.log(`${t.key}: ${t.from} → ${t.to}, exit status ${t.session.exitStatus}`);
  if (t.to === 'active.exited') stopWatching.abort();
});

await engine.spawn('short-lived', { command: ['sh', '-c', 'sleep 0.2; exit 3'] });
await watching;
await engine.end('short-lived');
await engine.close(); // first the engine: the transitions it writes while closing still reach the hooks
await hooks.close(); // then the hooks: waits for those still running
