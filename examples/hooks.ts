/**
 * A long-running embedder: hooks from a config object, a continuous watch, and a clean stop.
 * A session's window is closed behind the engine's back; the watch sees it; the `orphaned` hook
 * runs, and its failure is reported without touching the transition.
 */
import { HookRunner, createEngine, parseHooksConfig } from 'tmux-warden';

const hooks = new HookRunner(
  parseHooksConfig({
    hooks: { orphaned: 'echo "$WARDEN_KEY lost its window ($WARDEN_FROM → $WARDEN_TO)" >&2; exit 1' },
  }),
  { onResult: (result) => console.log(`hook: ${result.message}`) },
);

// The engine's outbox: hooks hear what opening changes too, and none is lost if this process ends first.
const engine = await createEngine({
  stateFile: process.env.WARDEN_STATE,
  socket: process.env.WARDEN_TMUX_SOCKET,
  outbox: hooks.outbox,
});

const stopWatching = new AbortController();
const watching = engine.watch({ signal: stopWatching.signal });
engine.subscribe((t) => {
  console.log(`${t.key}: ${t.from} → ${t.to} (${t.event})`);
  if (t.to === 'orphaned') stopWatching.abort();
});

const session = await engine.spawn('agent', { command: ['sleep', '600'] });
// As a person closing the window would; nobody tells the engine.
await engine.tmux.run(['kill-window', '-t', session.windowId!]);
await watching;
await engine.end('agent');
await engine.close(); // first the engine: the transitions it writes while closing still reach the hooks
await hooks.close(); // then the hooks: waits for those still running
