/**
 * Defect 1 of the tmux faults: a stopped tmux server (`kill -STOP`) holds every client's pipes
 * open. Every verb and every engine call must still return, saying tmux did not answer, and
 * change nothing. The server is continued and killed afterwards whatever happens.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LONG, warden } from './support/cli.js';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('hung');
let stopped: number | null = null;

function cont(): void {
  if (stopped !== null) process.kill(stopped, 'SIGCONT');
  stopped = null;
}
afterAll(cont);

async function stopServer(): Promise<number> {
  const pid = Number((await server.tmux.run(['display-message', '-p', '#{pid}'])).trim());
  process.kill(pid, 'SIGSTOP');
  stopped = pid;
  return pid;
}

describe('a stopped tmux server (defect 1)', () => {
  it('hung tmux: every engine call and every verb returns, says tmux did not answer, and changes nothing', async () => {
    const engine = await server.engine({ probeTimeoutMs: 300, tmuxTimeoutMs: 300 });
    const w = warden(server, engine.stateFile);
    await engine.spawn('held', { command: LONG_RUNNING });
    await stopServer();
    try {
      // The engine: a probe is unknown, a spawn and an end fail, the record stays as it was.
      const probe = await engine.reconcile();
      expect(probe).toMatchObject({ probe: 'unknown', transitions: [] });
      await expect(engine.spawn('more', { command: LONG_RUNNING })).rejects.toMatchObject({ code: expect.stringMatching(/TMUX_FAILED|SPAWN_FAILED/) });
      await engine.close();

      // The CLI, with its default timeouts: each verb returns and says so.
      const [ls, lsJson, status, doctor, spawn, end] = await Promise.all([
        w.run(['ls']),
        w.run(['ls', '--json']),
        w.run(['status', 'held']),
        w.run(['doctor']),
        w.run(['spawn', 'another', ...LONG]),
        w.run(['end', 'held']),
      ]);
      expect(ls.exitCode).toBe(0);
      expect(ls.stderr).toMatch(/tmux did not answer .*showing the state last recorded/);
      expect(ls.stdout).toMatch(/^held\s+ending\?|^held\s+running\?/m);
      expect(JSON.parse(lsJson.stdout)).toMatchObject({ confirmed: false, sessions: expect.arrayContaining([expect.objectContaining({ key: 'held' })]) });
      expect(status.exitCode).toBe(0);
      expect(status.stderr).toMatch(/tmux did not answer/);
      expect(doctor.exitCode).toBe(1);
      expect(doctor.stdout).toMatch(/tmux did not answer .*kill -CONT/);
      expect(spawn.exitCode).toBe(1);
      expect(spawn.stderr).toMatch(/tmux did not answer|timed out/);
      expect(end.exitCode).toBe(1);
      expect(end.stderr).toMatch(/could not clean up held .*timed out/);
    } finally {
      cont();
    }
    // Continued, tmux answers again: the end asked for while it hung is carried out.
    await waitFor(async () => {
      const after = await w.run(['ls', '--json']);
      return after.exitCode === 0 && after.stderr === '' && !after.stdout.includes('"held"');
    }, 'the end of held carried out once tmux answers');
  }, 60_000);
});
