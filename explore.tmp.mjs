import { getShortestPaths, getAdjacencyMap, adjacencyMapToArray } from 'xstate/graph';
import { sessionMachine, stateString } from './dist/machines/session.js';
const spec = { command: ['x'], cwd: null, env: {}, labels: {}, group: 'warden', resumeCommand: null };
const AT = { normal: 'at-normal', resume: 'at-resume', fresh: 'at-fresh' };
const alive = { windowId: '@1', paneId: '%1', pid: 1, dead: false, exitStatus: null };
const dead = { ...alive, dead: true, exitStatus: 5 };
const err = { code: 'TMUX_FAILED', message: 'injected', stderr: '' };
const key = (s) => `${stateString(s.value)}${s.context.next ? '+next' : ''}${s.context.error && stateString(s.value)==='ending' ? '+error' : ''}`;
function events(s) {
  const st = stateString(s.value);
  if (st === 'spawning') return [
    { type: 'xstate.done.actor.launch', output: alive },
    ...(s.context.createdAt === AT.normal && s.context.launch === 'create' ? [{ type: 'xstate.done.actor.launch', output: dead }] : []),
    { type: 'xstate.error.actor.launch', error: err }];
  if (st === 'ending') return s.context.error ? [{ type: 'RETRY' }] : [{ type: 'xstate.done.actor.cleanup' }, { type: 'xstate.error.actor.cleanup', error: err }];
  return [
    ...['normal','resume','fresh'].map((mode) => ({ type: 'SPAWN', mode, sessionId: `id-${mode}`, spec, at: AT[mode] })),
    { type: 'END' }, { type: 'WINDOW_GONE' }, { type: 'PANE_EXITED', exitStatus: 3 },
    { type: 'WINDOW_FOUND', window: alive }, { type: 'WINDOW_FOUND', window: { ...alive, dead: true, exitStatus: 4 } },
  ];
}
const opts = { input: { key: 'k' }, events, serializeState: (s) => key(s), serializeEvent: (e) => e.type === 'SPAWN' ? `SPAWN ${e.mode}` : e.type.startsWith('xstate.') ? `${e.type}${e.output?.dead ? ' dead' : ''}` : e.type === 'WINDOW_FOUND' ? `WINDOW_FOUND${e.window.dead?' dead':''}`: e.type };
const m = sessionMachine.provide({});
const paths = getShortestPaths(m, opts);
for (const p of paths) console.log(key(p.state), '<=', p.steps.map(s => opts.serializeEvent(s.event)).join(' , '));
const adj = adjacencyMapToArray(getAdjacencyMap(m, opts));
console.log(adj.length);
for (const a of adj) if (key(a.state) !== key(a.nextState) || true) console.log(key(a.state), '--', opts.serializeEvent(a.event), '->', key(a.nextState));
