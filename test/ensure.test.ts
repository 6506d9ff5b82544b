/**
 * SPAWN ensure and the option rules of spawn, over a real tmux server: ensure on each state of
 * the DESIGN table, resume given the same command, the caller's directory recorded, what fresh
 * keeps, clearing a resume command, and the command that ran last.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine.js';
import { WardenError } from '../src/model/errors.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('ensure');
const { tmux } = server;

async function exited(engine: Engine, key: string) {
  return waitFor(async () => {
    await engine.reconcile();
    const info = engine.get(key);
    return info?.exitStatus !== null ? info : null;
  }, `${key} to exit`);
}

describe('SPAWN ensure on each state', () => {
  it('normal → spawning: starts the key, recording the caller\'s directory as cwd', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('e-new', { mode: 'ensure', command: LONG_RUNNING });
    expect(info).toMatchObject({ state: 'active', exitStatus: null, cwd: process.cwd() });
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([info.windowId]);
  });

  it('active.running: no-op with the same command, same id and window, nothing written', async () => {
    const engine = await server.engine();
    const first = await engine.spawn('e-run', { mode: 'ensure', command: LONG_RUNNING });
    const bytes = readFileSync(engine.stateFile);
    const again = await engine.spawn('e-run', { mode: 'ensure', command: LONG_RUNNING, cwd: process.cwd() });
    expect(again).toMatchObject({ sessionId: first.sessionId, windowId: first.windowId, pid: first.pid });
    expect(readFileSync(engine.stateFile)).toEqual(bytes);
    expect(await ownedWindows(tmux, first.sessionId!)).toEqual([first.windowId]);
  });

  it('active.exited: resumes in the same pane with the same session id', async () => {
    const engine = await server.engine();
    const first = await engine.spawn('e-exit', { mode: 'ensure', command: ['sh', '-c', 'exit 5'], resumeCommand: 'sleep 600' });
    await exited(engine, 'e-exit');
    const resumed = await engine.spawn('e-exit', { mode: 'ensure', command: ['sh', '-c', 'exit 5'] });
    expect(resumed).toMatchObject({ state: 'active', sessionId: first.sessionId, windowId: first.windowId, exitStatus: null });
    expect(resumed.lastCommand).toEqual(['sleep 600']);
  });

  it('orphaned: relaunches in a new window with the same session id and cwd', async () => {
    const engine = await server.engine();
    const dir = join(server.dir, 'orphan-cwd');
    mkdirSync(dir, { recursive: true });
    const first = await engine.spawn('e-orphan', { command: ['sh', '-c', 'pwd > marker; sleep 600'], cwd: dir });
    await tmux.run(['kill-window', '-t', first.windowId!]);
    await engine.reconcile();
    expect(engine.get('e-orphan')?.state).toBe('orphaned');
    const back = await engine.spawn('e-orphan', { mode: 'ensure' });
    expect(back).toMatchObject({ state: 'active', sessionId: first.sessionId, cwd: dir });
    expect(back.windowId).not.toBe(first.windowId);
    await waitFor(() => readFileSync(join(dir, 'marker'), 'utf8').trim() === dir, 'the relaunch to run in the recorded cwd');
  });

  it('a command that differs from the stored one is a conflict naming --mode fresh; nothing written', async () => {
    const engine = await server.engine();
    await engine.spawn('e-diff', { command: LONG_RUNNING });
    const bytes = readFileSync(engine.stateFile);
    for (const mode of ['ensure', 'resume'] as const) {
      const refused = await engine.spawn('e-diff', { mode, command: ['sleep', '601'] }).catch((e: WardenError) => e);
      expect(refused).toMatchObject({ code: 'CONFLICT', exitCode: 3 });
      expect((refused as WardenError).message).toBe(
        `e-diff runs with another command: use --mode fresh to restart it with the new one (--mode ${mode} keeps the stored one)`,
      );
    }
    expect(readFileSync(engine.stateFile)).toEqual(bytes);
  });
});

describe('spawn option rules', () => {
  it('--mode resume given the same command as stored is accepted', async () => {
    const engine = await server.engine();
    const first = await engine.spawn('r-same', { command: ['sh', '-c', 'exit 2'] });
    await exited(engine, 'r-same');
    const resumed = await engine.spawn('r-same', { mode: 'resume', command: ['sh', '-c', 'exit 2'] });
    expect(resumed.sessionId).toBe(first.sessionId);
  });

  it('a refusal of normal mode names ensure, resume and fresh, never "attach"', async () => {
    const engine = await server.engine();
    await engine.spawn('r-taken', { command: LONG_RUNNING });
    const refused = await engine.spawn('r-taken', { command: LONG_RUNNING }).catch((e: WardenError) => e);
    expect((refused as WardenError).message).toMatch(/--mode ensure to keep it running, --mode resume to relaunch it or --mode fresh/);
    expect((refused as WardenError).message).not.toMatch(/attach/);
  });

  it('--mode fresh keeps the stored env, labels and cwd unless given; given ones replace them whole', async () => {
    const engine = await server.engine();
    const dir = join(server.dir, 'fresh-cwd');
    mkdirSync(dir, { recursive: true });
    await engine.spawn('f-keep', { command: LONG_RUNNING, cwd: dir, env: { A: '1', B: '2' }, labels: { team: 'core' } });
    const kept = await engine.spawn('f-keep', { mode: 'fresh' });
    expect(kept).toMatchObject({ cwd: dir, labels: { team: 'core' } });
    expect(engine.store).toBeDefined();
    const replaced = await engine.spawn('f-keep', { mode: 'fresh', env: { C: '3' }, labels: { owner: 'me' } });
    expect(replaced.labels).toEqual({ owner: 'me' });
    const doc = JSON.parse(readFileSync(engine.stateFile, 'utf8'));
    expect(doc.sessions['f-keep'].snapshot.context.spec.env).toEqual({ C: '3' });
  });

  it("--resume-command '' clears the stored resume command", async () => {
    const engine = await server.engine();
    await engine.spawn('c-clear', { command: ['sh', '-c', 'exit 1'], resumeCommand: 'sleep 600' });
    await exited(engine, 'c-clear');
    const resumed = await engine.spawn('c-clear', { mode: 'resume', resumeCommand: '' });
    expect(resumed.lastCommand).toEqual(['sh', '-c', 'exit 1']);
    const doc = JSON.parse(readFileSync(engine.stateFile, 'utf8'));
    expect(doc.sessions['c-clear'].snapshot.context.spec.resumeCommand).toBeNull();
  });

  it('the session object shows the command that ran last, substituted', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('l-last', { command: ['sh', '-c', 'exit 0', '{key}'], resumeCommand: 'sleep 600 # {sessionId}' });
    expect(info.lastCommand).toEqual(['sh', '-c', 'exit 0', 'l-last']);
    await exited(engine, 'l-last');
    const resumed = await engine.spawn('l-last', { mode: 'resume' });
    expect(resumed.lastCommand).toEqual([`sleep 600 # ${info.sessionId}`]);
    expect(resumed.command).toEqual(['sh', '-c', 'exit 0', '{key}']);
  });
});
