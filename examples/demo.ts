/**
 * `npm run demo`: the main job end to end, on a tmux server and a state file of its own.
 * Two sessions are spawned, one window is killed behind the engine's back, a new engine on the
 * same file rehydrates and sees the truth, the orphan is resumed (its log keeps what it printed
 * before the kill), an exit status is kept, a session runs in a git worktree of its own (in a
 * temporary repository), `up` starts what a sessions file names (and, run again, changes
 * nothing), and everything is ended. Nothing is left running or on disk.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../src/engine.js';
import { applyPlan, currentSessions, planUp, readSessionsFile } from '../src/fleet/index.js';
import type { SessionInfo } from '../src/model/schema.js';
import { Tmux } from '../src/tmux.js';
import { viewLog } from '../src/logs/view.js';

const socket = `warden-demo-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'warden-demo-'));
const stateFile = join(dir, 'state.json');
const tmux = new Tmux({ socket: { name: socket } });
let step = 0;
const GIT_IDENTITY = { GIT_AUTHOR_NAME: 'demo', GIT_AUTHOR_EMAIL: 'demo@example.com', GIT_COMMITTER_NAME: 'demo', GIT_COMMITTER_EMAIL: 'demo@example.com' };

function say(text: string): void {
  process.stdout.write(`${String(++step).padStart(2)}. ${text}\n`);
}

function show(info: SessionInfo | undefined): string {
  if (!info) return '(no session)';
  const exit = info.exitStatus === null ? '' : `, exit status ${info.exitStatus}`;
  const window = info.windowId ? `window ${info.windowId}` : 'no window';
  return `${info.key} is ${info.state}${exit} (${window}, session ${info.sessionId?.slice(0, 8)})`;
}

async function waitUntil(engine: Engine, check: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !check(); i++) {
    await engine.reconcile();
    if (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The last lines of a session's durable log, once they include `until`. */
async function logLines(logFile: string, until: string): Promise<string[]> {
  for (let i = 0; i < 250; i++) {
    const text = await viewLog(logFile, { lines: 5 }).catch(() => '');
    if (text.includes(until)) return text.trim().split('\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return [];
}

async function main(): Promise<void> {
  say(`tmux server: tmux -L ${socket}; state file: ${stateFile}`);
  const first = await createEngine({ stateFile, socket });
  const architect = await first.spawn('architect', {
    command: ['sh', '-c', 'echo "architect {sessionId} at work"; read answer; exit "$answer"'],
    resumeCommand: 'sh -c \'echo "architect {sessionId} resumed"; read answer; exit "$answer"\'',
  });
  say(`spawned ${show(architect)}`);
  const apiFix = await first.spawn('api-fix', {
    command: ['sh', '-c', 'echo "api-fix {sessionId} at work"; sleep 600'],
    resumeCommand: 'sh -c \'echo "api-fix resumed its conversation {sessionId}"; sleep 600\'',
    labels: { ticket: 'T-42' },
  });
  say(`spawned ${show(apiFix)} with label ticket=T-42`);
  await first.close();
  say('engine closed, as a CLI call or a crashed daemon would leave it');

  await tmux.run(['kill-window', '-t', apiFix.windowId!]);
  say(`killed window ${apiFix.windowId} behind the engine's back (tmux kill-window)`);

  const second = await createEngine({ stateFile, socket, reconcileOnOpen: false });
  second.subscribe((t) => say(`  transition ${t.key}: ${t.from} → ${t.to} on ${t.event} (durable)`));
  say(`a new engine on the same file rehydrated ${second.list().length} sessions; one reconcile with tmux:`);
  await second.reconcile();
  for (const info of second.list()) say(`  ${show(info)}`);

  const resumed = await second.spawn('api-fix', { mode: 'resume' });
  say(`resumed ${show(resumed)}: same session id, new window`);
  const screen = (await second.capture('api-fix')).trim().split('\n').filter(Boolean).pop();
  say(`  api-fix's screen says: "${screen}"`);
  const logged = await logLines(resumed.logFile!, 'resumed');
  say(`  its log kept the output from before the kill: "${logged.join('" then "')}"`);

  // Activity: a shell is read by the built-in shell profile once quiet: its prompt means waiting.
  await second.spawn('shell', { command: ['sh', '-c', 'echo working; sleep 1; printf "ready\\$ "; read line; sleep 600'], profile: 'shell' });
  say(`spawned shell: ${second.get('shell')?.activity} (a session starts busy)`);
  const waited = await second.wait('shell', ['waiting'], { timeoutMs: 15_000 });
  const why = second.explainActivity('shell');
  say(`  shell is ${waited.session?.activity}, decided by its ${why?.source} (${why?.profile} profile saw "${why?.matched}")`);

  await second.send('architect', '3');
  say('typed "3" + Enter into architect: its program exits with that status');
  await waitUntil(second, () => second.get('architect')?.exitStatus !== null);
  say(`  ${show(second.get('architect'))}`);

  const repo = join(dir, 'repo');
  mkdirSync(repo);
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { env: { ...process.env, ...GIT_IDENTITY } });
  git('init', '-q', '-b', 'main');
  git('commit', '-q', '--allow-empty', '-m', 'init');
  const isolated = await second.spawn('reviewer', { command: ['sleep', '600'], worktree: { repo } });
  say(`spawned ${show(isolated)} in its own git worktree ${isolated.worktree?.path} on ${isolated.worktree?.branch}`);

  // `warden up`, as the CLI runs it: a sessions file, a pure plan, applied through the engine.
  writeFileSync(join(dir, 'warden.yaml'), 'sessions:\n  docs:\n    command: [sleep, "600"]\n    restart: on-failure\n');
  for (const round of ['first', 'second']) {
    const fleet = await readSessionsFile(join(dir, 'warden.yaml'), { group: second.group });
    const steps = planUp(fleet.file, fleet.sessions, currentSessions(second));
    const [result] = await applyPlan(second, steps, fleet.sessions);
    say(`warden up (${round} time): ${steps.map((s) => `${s.action} ${s.key} (${s.reason})`).join(', ')} → session ${result?.session?.sessionId?.slice(0, 8)}`);
  }

  for (const info of second.list()) {
    await second.end(info.key);
  }
  say(`reviewer's worktree held nothing unsaved, so it went with it: ${existsSync(isolated.worktree!.path) ? 'still there' : 'removed'}`);
  say(`ended everything; history keeps ${(await second.history()).length} entries`);
  const probe = await tmux.probeAll();
  const left = probe.kind === 'ok' ? probe.panes.filter((p) => p.tag).length : 0;
  say(`tagged windows left in tmux: ${left}`);
  await second.close();
}

try {
  await main();
} finally {
  await tmux.killServer().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
