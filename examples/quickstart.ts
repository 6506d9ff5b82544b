/**
 * The engine in one page: open, listen, spawn, type into the session, read its screen,
 * reconcile with tmux, end, close. Run it with `node dist/examples/quickstart.js`.
 */
import { ConflictError, createEngine } from 'tmux-warden';

const engine = await createEngine({
  // Both optional: $WARDEN_STATE or ~/.local/state/tmux-warden/state.json, and the default tmux server.
  stateFile: process.env.WARDEN_STATE,
  socket: process.env.WARDEN_TMUX_SOCKET,
});

// Every transition, once it is durable in the state file.
const unsubscribe = engine.subscribe((t) => console.log(`${t.key}: ${t.from} → ${t.to} (${t.event})`));

// {key} and {sessionId} are substituted; the program also gets WARDEN_KEY and WARDEN_SESSION_ID.
const session = await engine.spawn('quickstart', {
  command: ['sh', '-c', 'echo "hello from {key}"; read line; echo "got $line"; sleep 600'],
  labels: { ticket: 'DOC-1' },
});
console.log(`${session.key} is ${session.state} in window ${session.windowId}, session ${session.sessionId}`);

// One session per key: a second normal spawn is refused, with a typed error.
try {
  await engine.spawn('quickstart', { command: ['true'] });
} catch (err) {
  if (!(err instanceof ConflictError)) throw err;
  console.log(`refused (${err.code}, exit code ${err.exitCode}): ${err.message}`);
}

// Read the screen until it shows `text` (or 5 s pass).
async function screenShowing(text: string): Promise<string> {
  const deadline = Date.now() + 5000;
  let screen = await engine.capture('quickstart');
  while (!screen.includes(text) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    screen = await engine.capture('quickstart');
  }
  return screen;
}

// Type a line once the program has greeted us (Enter is pressed after it).
await screenShowing('hello from');
await engine.send('quickstart', 'ping');
const screen = await screenShowing('got ping');
console.log(`screen: ${screen.trim().split('\n').join(' | ')}`);

// One tmux process probes every session; list() is then the truth.
const { probe } = await engine.reconcile();
console.log(`probe ${probe}: ${engine.list().map((s) => `${s.key}=${s.state}`).join(', ')}`);

// Kills only the window tagged with this session id; the record goes, a history entry stays.
const ended = await engine.end('quickstart');
const history = await engine.history('quickstart');
console.log(`ended: ${ended.state}, history: ${history.at(-1)?.reason}`);

unsubscribe();
await engine.close();
