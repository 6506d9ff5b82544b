/**
 * `up` and `down` from a sessions file, driven through the built CLI against a real tmux server:
 * up from nothing, up again (no change, same ids), a changed command restarts only that session,
 * --prune ends only what came from the file, down, and up after kill-server brings every session
 * back with its id and cwd. Bad files are refused naming the file, the line and the field.
 */
import { execa } from 'execa';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SessionInfoSchema } from '../src/model/schema.js';
import { json, refused, session, warden, type Warden } from './support/cli.js';
import { ownedWindows, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('fleet');
const rebooted = useTmuxServer('fleet-reboot');
const GIT_ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };

const StepSchema = z.object({
  key: z.string(),
  action: z.enum(['start', 'resume', 'restart', 'leave', 'end']),
  reason: z.string(),
  changed: z.array(z.string()),
  error: z.object({ code: z.string(), message: z.string() }).passthrough().nullable(),
  session: SessionInfoSchema.nullable(),
});
const PlanSchema = z.object({ file: z.string(), dryRun: z.boolean(), plan: z.array(StepSchema) }).strict();

/** A project directory with a sessions file; `XDG_CONFIG_HOME` points at an empty one of its own. */
function project(name: string, base = server.dir) {
  const dir = join(base, name);
  mkdirSync(join(dir, 'api'), { recursive: true });
  const file = join(dir, 'warden.yaml');
  const env = { XDG_CONFIG_HOME: join(dir, 'config-home') };
  return {
    dir,
    file,
    env,
    write: (text: string) => writeFileSync(file, text),
    up: async (w: Warden, ...args: string[]) => PlanSchema.parse(json(PlanSchema, await w.run(['up', '-f', file, '--json', ...args], { env }))),
  };
}

const THREE = `# three agents
sessions:
  api-fix:
    command: [sh, -c, "pwd > where; sleep 600", "{sessionId}"]
    cwd: api
    labels: { ticket: T-12 }
  reviewer:
    command: sleep 600 # run by sh -c
    env: { PORT: 8080 }
  worker:
    command: [sleep, "601"]
    restart: on-failure
`;

describe('up [-f FILE] [KEY…] [--dry-run] [--prune] [--json]', () => {
  it('passEnv stores only the names: the program gets the value, state.json never holds it; profile is kept', async () => {
    const p = project('secrets');
    p.write(`sessions:\n  agent:\n    command: [sh, -c, 'echo "$TOKEN" > token; sleep 600']\n    passEnv: [TOKEN]\n    profile: shell\n`);
    const w = warden(server);
    const secret = `tok-${process.pid}-${Date.now()}`;
    const up = (extra: Record<string, string>) => w.run(['up', '-f', p.file, '--json'], { env: { ...p.env, ...extra } });
    const first = PlanSchema.parse(json(PlanSchema, await up({ TOKEN: secret })));
    expect(first.plan.map((s) => [s.key, s.action, s.error])).toEqual([['agent', 'start', null]]);
    await waitFor(() => {
      try {
        return readFileSync(join(p.dir, 'token'), 'utf8').trim() === secret;
      } catch {
        return false;
      }
    }, 'the program to get the value');
    expect(readFileSync(w.stateFile, 'utf8')).not.toContain(secret);
    expect(readFileSync(`${w.stateFile}.bak`, 'utf8')).not.toContain(secret);
    const spec = JSON.parse(readFileSync(w.stateFile, 'utf8')).sessions.agent.snapshot.context.spec;
    expect([spec.env, spec.passEnv, spec.profile]).toEqual([{}, ['TOKEN'], 'shell']);
    // Again, with another value: the spec (names only) is unchanged, so nothing restarts.
    const again = PlanSchema.parse(json(PlanSchema, await up({ TOKEN: 'another' })));
    expect(again.plan.map((s) => [s.key, s.action])).toEqual([['agent', 'leave']]);
    refused(await w.run(['up', '-f', p.file], { env: p.env }), 2, /sessions\.agent\.passEnv.*TOKEN is not set in this environment/);
    // The profile taken out of the file: one restart clears it, and the next up changes nothing.
    p.write(`sessions:\n  agent:\n    command: [sh, -c, 'echo "$TOKEN" > token; sleep 600']\n    passEnv: [TOKEN]\n`);
    const cleared = PlanSchema.parse(json(PlanSchema, await up({ TOKEN: secret })));
    expect(cleared.plan.map((s) => [s.key, s.action, s.changed])).toEqual([['agent', 'restart', ['profile']]]);
    expect(JSON.parse(readFileSync(w.stateFile, 'utf8')).sessions.agent.snapshot.context.spec.profile).toBeNull();
    const settled = PlanSchema.parse(json(PlanSchema, await up({ TOKEN: secret })));
    expect(settled.plan.map((s) => [s.key, s.action])).toEqual([['agent', 'leave']]);
  });

  it('from nothing: starts every session, recording the cwd (relative to the file) and where it came from', async () => {
    const p = project('from-nothing');
    p.write(THREE);
    const w = warden(server);
    const dry = await p.up(w, '--dry-run');
    expect(dry.plan.map((s) => [s.key, s.action])).toEqual([['api-fix', 'start'], ['reviewer', 'start'], ['worker', 'start']]);
    expect(w.stateBytes()).toBeNull();
    const up = await p.up(w);
    expect(up.dryRun).toBe(false);
    const byKey = Object.fromEntries(up.plan.map((s) => [s.key, s.session!]));
    expect(byKey['api-fix']).toMatchObject({ state: 'active', cwd: join(p.dir, 'api'), labels: { ticket: 'T-12', 'warden.fleet': p.file } });
    expect(byKey.reviewer).toMatchObject({ command: ['sh', '-c', 'sleep 600'], cwd: p.dir });
    expect(byKey.worker!.restartPolicy).toMatchObject({ policy: 'on-failure', maxRestarts: 5 });
    for (const info of Object.values(byKey)) expect(await ownedWindows(server.tmux, info.sessionId!)).toEqual([info.windowId]);
    await waitFor(() => readFileSync(join(p.dir, 'api', 'where'), 'utf8').trim() === join(p.dir, 'api'), 'api-fix to run in its cwd');
  });

  it('again: changes nothing and keeps every session id; a changed command restarts only that session', async () => {
    const p = project('again');
    p.write(THREE);
    const w = warden(server);
    const first = await p.up(w);
    const ids = Object.fromEntries(first.plan.map((s) => [s.key, s.session!.sessionId]));
    const bytes = w.stateBytes();
    const again = await p.up(w);
    expect(again.plan.map((s) => [s.key, s.action, s.reason])).toEqual([
      ['api-fix', 'leave', 'running'],
      ['reviewer', 'leave', 'running'],
      ['worker', 'leave', 'running'],
    ]);
    expect(Object.fromEntries(again.plan.map((s) => [s.key, s.session!.sessionId]))).toEqual(ids);
    expect(w.stateBytes()).toEqual(bytes);
    const human = await w.run(['up', '-f', p.file], { env: p.env });
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/^leave\s+api-fix\s+\(running\)\n.*\n.*\neverything matches the file\n$/);

    p.write(THREE.replace('command: sleep 600 # run by sh -c', 'command: sleep 599'));
    const changed = await p.up(w);
    expect(changed.plan.map((s) => [s.key, s.action, s.changed])).toEqual([
      ['api-fix', 'leave', []],
      ['reviewer', 'restart', ['command']],
      ['worker', 'leave', []],
    ]);
    const after = Object.fromEntries(changed.plan.map((s) => [s.key, s.session!.sessionId]));
    expect(after['api-fix']).toBe(ids['api-fix']);
    expect(after.worker).toBe(ids.worker);
    expect(after.reviewer).not.toBe(ids.reviewer);
    expect(await ownedWindows(server.tmux, ids.reviewer!)).toEqual([]);
  });

  it('worktree: runs each session in a worktree of its own; up again changes nothing; taking it out restarts in cwd', async () => {
    const p = project('worktrees');
    const repo = join(p.dir, 'api');
    for (const args of [['init', '-q', '-b', 'main'], ['commit', '-q', '--allow-empty', '-m', 'init']]) {
      await execa('git', ['-C', repo, ...args], { env: GIT_ENV });
    }
    const file = (second: string) => `sessions:
  solo:
    command: [sh, -c, "pwd > ${join(p.dir, 'where-solo')}; sleep 600"]
    cwd: api
    worktree: true
  named:
    command: [sleep, "600"]
${second}`;
    p.write(file('    worktree: { branch: feature-x, repo: api }\n'));
    const w = warden(server);
    const up = await p.up(w);
    const byKey = Object.fromEntries(up.plan.map((s) => [s.key, s.session!]));
    expect(up.plan.map((s) => [s.key, s.action, s.error])).toEqual([['solo', 'start', null], ['named', 'start', null]]);
    expect(byKey.solo).toMatchObject({ cwd: join(repo, '.worktrees', 'solo'), worktree: { branch: 'warden/solo', created: true } });
    expect(byKey.named).toMatchObject({ cwd: join(repo, '.worktrees', 'named'), worktree: { branch: 'feature-x', created: true } });
    await waitFor(() => readFileSync(join(p.dir, 'where-solo'), 'utf8').trim() === join(repo, '.worktrees', 'solo'), 'solo to run in its worktree');

    // The stored cwd is the worktree's: that is no change, and nothing is written.
    const bytes = w.stateBytes();
    const again = await p.up(w);
    expect(again.plan.map((s) => [s.key, s.action])).toEqual([['solo', 'leave'], ['named', 'leave']]);
    expect(w.stateBytes()).toEqual(bytes);

    // Another branch is another worktree where the old one stands: the old goes as end takes it.
    p.write(file('    worktree: { branch: feature-x, repo: api }\n').replace('worktree: true', 'worktree: feature-y'));
    const branched = await p.up(w);
    expect(branched.plan.map((s) => [s.key, s.action, s.changed, s.error])).toEqual([['solo', 'restart', ['worktree'], null], ['named', 'leave', [], null]]);
    expect(branched.plan[0]!.session).toMatchObject({ state: 'active', cwd: join(repo, '.worktrees', 'solo'), worktree: { branch: 'feature-y' } });
    expect((await execa('git', ['-C', repo, 'branch', '--list', 'warden/solo'])).stdout).toBe('');
    expect((await p.up(w)).plan.map((s) => s.action)).toEqual(['leave', 'leave']);

    // A bad request, or an old worktree holding work: the session is left running, the step says why.
    const soloId = branched.plan[0]!.session!.sessionId;
    const named = '    worktree: { branch: feature-x, repo: api }\n';
    const upFails = async (solo: string) => {
      p.write(file(named).replace('worktree: true', `worktree: ${solo}`));
      const r = await w.run(['up', '-f', p.file, '--json'], { env: p.env });
      expect(r.exitCode).not.toBe(0);
      return PlanSchema.parse(JSON.parse(r.stdout)).plan[0]!;
    };
    expect(await upFails('{ branch: feature-z, base: mian }')).toMatchObject({ action: 'restart', error: { message: expect.stringContaining('"mian" is not a commit') } });
    writeFileSync(join(repo, '.worktrees', 'solo', 'draft.txt'), 'work\n');
    expect((await upFails('feature-z')).error!.message).toMatch(/holds 1 uncommitted change\(s\) \(draft\.txt\).*solo was left running/);
    expect(readFileSync(join(repo, '.worktrees', 'solo', 'draft.txt'), 'utf8')).toBe('work\n');
    const still = session(await w.run(['status', 'solo', '--json']));
    expect(still).toMatchObject({ state: 'active', sessionId: soloId, worktree: { branch: 'feature-y' } });

    // The same worktree with another command: a fresh restart, which keeps the worktree and its work.
    const newCommand = (text: string) => text.replace('sleep 600"]', 'sleep 601"]');
    p.write(newCommand(file(named).replace('worktree: true', 'worktree: feature-y')));
    const recommanded = await p.up(w);
    expect(recommanded.plan.map((s) => [s.key, s.action, s.changed, s.error])).toEqual([['solo', 'restart', ['command'], null], ['named', 'leave', [], null]]);
    expect(recommanded.plan[0]!.session).toMatchObject({ state: 'active', worktree: { branch: 'feature-y' } });
    expect(recommanded.plan[0]!.session!.sessionId).not.toBe(soloId);
    expect(readFileSync(join(repo, '.worktrees', 'solo', 'draft.txt'), 'utf8')).toBe('work\n');
    rmSync(join(repo, '.worktrees', 'solo', 'draft.txt'));

    // Without its worktree, a session is restarted in its cwd (the file's directory here).
    p.write(newCommand(file('').replace('worktree: true', 'worktree: feature-y')));
    const changed = await p.up(w);
    expect(changed.plan.map((s) => [s.key, s.action, s.changed, s.error])).toEqual([['solo', 'leave', [], null], ['named', 'restart', ['cwd', 'worktree'], null]]);
    expect(changed.plan[1]!.session).toMatchObject({ state: 'active', cwd: p.dir, worktree: null });
    expect(changed.plan[1]!.session!.sessionId).not.toBe(byKey.named!.sessionId);
    // The old worktree goes as `end` takes one: removed, since nothing in it would be lost.
    const worktrees = (await execa('git', ['-C', repo, 'worktree', 'list', '--porcelain'])).stdout;
    expect(worktrees).toContain(join(repo, '.worktrees', 'solo'));
    expect(worktrees).not.toContain(join(repo, '.worktrees', 'named'));
    const history = JSON.parse(readFileSync(w.stateFile, 'utf8')).history as { key: string; worktree?: { removal: unknown } }[];
    expect(history.find((h) => h.key === 'named')?.worktree?.removal).toMatchObject({ removed: true });
  });

  it('--prune ends what the file no longer names, never a session that did not come from it; KEY… limits the plan', async () => {
    const p = project('prune');
    p.write(THREE);
    const w = warden(server);
    await p.up(w);
    expect((await w.run(['spawn', 'mine', '--', 'sleep', '600'])).exitCode).toBe(0);
    p.write(THREE.replace(/ {2}worker:\n.*\n.*\n/, ''));
    const kept = await p.up(w);
    expect(kept.plan.map((s) => s.key)).toEqual(['api-fix', 'reviewer']);
    const only = await p.up(w, '--prune', 'reviewer');
    expect(only.plan.map((s) => [s.key, s.action])).toEqual([['reviewer', 'leave']]);
    const pruned = await p.up(w, '--prune');
    expect(pruned.plan.map((s) => [s.key, s.action, s.reason])).toEqual([
      ['api-fix', 'leave', 'running'],
      ['reviewer', 'leave', 'running'],
      ['worker', 'end', 'not in the file'],
    ]);
    const ls = JSON.parse((await w.run(['ls', '--json'])).stdout).sessions.map((s: { key: string }) => s.key);
    expect(ls).toEqual(['api-fix', 'mine', 'reviewer']);
  });

  it('reads warden.yaml from the current directory; an unknown KEY is bad usage', async () => {
    const p = project('here');
    p.write(THREE);
    const w = warden(server);
    const result = await w.run(['up', '--json', 'reviewer'], { env: p.env, cwd: p.dir });
    expect(PlanSchema.parse(json(PlanSchema, result)).plan.map((s) => s.key)).toEqual(['reviewer']);
    refused(await w.run(['up', 'nobody'], { env: p.env, cwd: p.dir }), 2, /nobody not in .*warden\.yaml: name sessions the file holds/);
    refused(await w.run(['up'], { env: p.env, cwd: server.dir }), 2, /no warden\.yaml, warden\.yml, warden\.json in .*: write one or name it with -f FILE/);
  });
});

describe('down [-f FILE] [KEY…]', () => {
  it('ends the sessions of the file and nothing else', async () => {
    const p = project('down');
    p.write(THREE);
    const w = warden(server);
    await p.up(w);
    expect((await w.run(['spawn', 'bystander', '--', 'sleep', '600'])).exitCode).toBe(0);
    const down = PlanSchema.parse(json(PlanSchema, await w.run(['down', '-f', p.file, '--json'], { env: p.env })));
    expect(down.plan.map((s) => [s.key, s.action, s.session?.state])).toEqual([
      ['api-fix', 'end', 'normal'],
      ['reviewer', 'end', 'normal'],
      ['worker', 'end', 'normal'],
    ]);
    const ls = JSON.parse((await w.run(['ls', '--json'])).stdout).sessions.map((s: { key: string }) => s.key);
    expect(ls).toEqual(['bystander']);
    const again = await w.run(['down', '-f', p.file], { env: p.env });
    expect(again).toMatchObject({ exitCode: 0, stdout: 'nothing to do\n' });
  });
});

describe('after a reboot (kill-server), up brings every session back with its id and cwd', () => {
  it('resumes each orphaned session: same session id, same cwd, the resume command where there is one', async () => {
    const p = project('reboot', rebooted.dir);
    p.write(`sessions:
  agent:
    command: [sh, -c, "sleep 600", "{sessionId}"]
    resumeCommand: "pwd > resumed-{sessionId}; sleep 600"
    cwd: api
  plain:
    command: [sleep, "600"]
`);
    const w = warden(rebooted);
    const first = await p.up(w);
    const ids = Object.fromEntries(first.plan.map((s) => [s.key, s.session!.sessionId]));
    await rebooted.tmux.killServer();
    const back = await p.up(w);
    expect(back.plan.map((s) => [s.key, s.action, s.reason])).toEqual([
      ['agent', 'resume', 'orphaned'],
      ['plain', 'resume', 'orphaned'],
    ]);
    for (const step of back.plan) {
      expect(step.session).toMatchObject({ state: 'active', sessionId: ids[step.key] });
      expect(await ownedWindows(rebooted.tmux, ids[step.key]!)).toEqual([step.session!.windowId]);
    }
    expect(back.plan[0]!.session!.lastCommand).toEqual([`pwd > resumed-${ids.agent}; sleep 600`]);
    const marker = join(p.dir, 'api', `resumed-${ids.agent}`);
    await waitFor(() => readFileSync(marker, 'utf8').trim() === join(p.dir, 'api'), 'the resume to run in the recorded cwd');
    const settled = await p.up(w);
    expect(settled.plan.map((s) => s.action)).toEqual(['leave', 'leave']);
  });
});

describe('bad files are refused with the file, the line and the field; nothing is written', () => {
  it('a sessions file', async () => {
    const p = project('bad-sessions');
    const w = warden(server);
    p.write('sessions:\n  api:\n    command: [claude]\n    comand: typo\n');
    refused(await w.run(['up', '-f', p.file], { env: p.env }), 2, new RegExp(`invalid sessions file ${p.file}:4 sessions\\.api\\.comand: unknown field "comand": the fields are command, `));
    p.write('sessions:\n  api:\n    command: [claude]\n  "bad key":\n    command: x\n');
    refused(await w.run(['up', '-f', p.file], { env: p.env }), 2, new RegExp(`invalid sessions file ${p.file}:4 sessions`));
    p.write('hooks:\n  orphaned: echo hi\nsessions: {}\n');
    refused(await w.run(['up', '-f', p.file], { env: p.env }), 2, new RegExp(`invalid sessions file ${p.file}:1 hooks: hooks are not read from a sessions file`));
    p.write('sessions:\n  api:\n    command: [claude]\n    cwd: nowhere\n');
    refused(await w.run(['up', '-f', p.file], { env: p.env }), 2, new RegExp(`invalid sessions file ${p.file}:4 sessions\\.api\\.cwd: .*nowhere is not a directory`));
    p.write('sessions:\n  api:\n    command: [claude\n');
    refused(await w.run(['up', '-f', p.file], { env: p.env }), 2, new RegExp(`sessions file ${p.file}:\\d+ is not YAML`));
    expect(w.stateBytes()).toBeNull();
  });

  it('the config file, in YAML', async () => {
    const p = project('bad-config');
    p.write(THREE);
    const config = join(p.env.XDG_CONFIG_HOME, 'tmux-warden', 'config.yaml');
    mkdirSync(join(p.env.XDG_CONFIG_HOME, 'tmux-warden'), { recursive: true });
    writeFileSync(config, '# my hooks\nhookTimeoutMs: 5000\nhooks:\n  orphaned: notify-send gone\n  orphand: true\n');
    const w = warden(server);
    refused(await w.run(['up', '-f', p.file], { env: p.env }), 2, new RegExp(`invalid config ${config}:5 hooks\\.orphand: unknown state "orphand": use one of`));
    writeFileSync(config, 'defaults:\n  restart:\n    policy: sometimes\n');
    refused(await w.run(['ls'], { env: p.env }), 2, new RegExp(`invalid config ${config}:3 defaults\\.restart\\.policy: `));
    expect(w.stateBytes()).toBeNull();
  });
});
