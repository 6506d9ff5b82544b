/**
 * `warden service install|uninstall|status`: the systemd user unit that runs `warden watch`. The
 * unit is checked with `systemd-analyze verify`, and its ExecStart is run for real: the watcher it
 * starts applies a restart policy with nobody calling warden.
 */
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_PATH, cleanEnv, warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('service');
const analyze = await execa('systemd-analyze', ['--version'], { reject: false }).then((r) => r.exitCode === 0, () => false);
const userManager = await execa('systemctl', ['--user', 'is-system-running'], { reject: false }).then((r) => r.exitCode === 0, () => false);

describe('service install|uninstall|status', () => {
  const configHome = join(server.dir, 'config-home');
  const env = { XDG_CONFIG_HOME: configHome };
  const unit = join(configHome, 'systemd', 'user', 'tmux-warden.service');

  it('install writes a unit that runs this warden\'s watch on the same state file and socket, restarting on failure', async () => {
    const w = warden(server);
    const installed = await w.run(['service', 'install', '--no-enable', '--json'], { env });
    expect(installed.exitCode).toBe(0);
    expect(JSON.parse(installed.stdout)).toMatchObject({ unit, changed: true, enabled: false });
    const text = readFileSync(unit, 'utf8');
    expect(text).toContain(`ExecStart=${process.execPath} ${CLI_PATH} --state ${w.stateFile} --socket ${server.socket} watch\n`);
    expect(text).toMatch(/\nRestart=on-failure\n/);
    expect(text).toMatch(/\nWantedBy=default.target\n/);
    const again = await w.run(['service', 'install', '--no-enable'], { env });
    expect(again.stdout).toMatch(new RegExp(`^unchanged ${unit}\\n`));
  });

  it.skipIf(!analyze)('the unit passes systemd-analyze verify', async () => {
    await warden(server).run(['service', 'install', '--no-enable'], { env });
    const verified = await execa('systemd-analyze', ['verify', unit], { reject: false });
    expect(verified.stderr).toBe('');
    expect(verified.exitCode).toBe(0);
  });

  it('the watcher it runs applies a restart policy with nobody calling warden', async () => {
    const w = warden(server);
    await w.run(['service', 'install', '--no-enable'], { env });
    const [bin, ...args] = /\nExecStart=(.*)\n/.exec(readFileSync(unit, 'utf8'))![1]!.split(' ');
    const watcher = execa(bin!, args, { reject: false, env: cleanEnv(), extendEnv: false, stdin: 'ignore' });
    try {
      const marker = join(server.dir, 'restarted-once');
      const spawned = await w.run(['spawn', 'svc', '--restart', 'on-failure', '--restart-backoff', '50', '--json', '--', 'sh', '-c', `test -e ${marker} && exec sleep 600; touch ${marker}; exit 1`]);
      expect(spawned.exitCode).toBe(0);
      await waitFor(() => {
        const doc = JSON.parse(readFileSync(w.stateFile, 'utf8'));
        const context = doc.sessions.svc?.snapshot.context;
        return context?.restarts === 1 && context.exitStatus === null && context.pid !== null;
      }, 'the watch of the unit to restart svc');
    } finally {
      watcher.kill('SIGTERM');
      expect((await watcher).exitCode).toBe(0);
    }
  });

  it.skipIf(userManager)('without a user manager (a container), install writes the unit and says how to enable it (exit 1)', async () => {
    const result = await warden(server).run(['service', 'install'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^warden: wrote .*tmux-warden\.service, but systemctl --user failed \(.*\): run 'systemctl --user daemon-reload && systemctl --user enable --now tmux-warden\.service' in your login session\n$/);
  });

  it('status says whether it is installed; uninstall removes it', async () => {
    const w = warden(server);
    await w.run(['service', 'install', '--no-enable'], { env });
    expect(JSON.parse((await w.run(['service', 'status', '--json'], { env })).stdout)).toMatchObject({ unit, installed: true });
    const removed = await w.run(['service', 'uninstall', '--json'], { env });
    expect(JSON.parse(removed.stdout)).toEqual({ unit, removed: true });
    expect(existsSync(unit)).toBe(false);
    const status = await w.run(['service', 'status'], { env });
    expect(status.stdout).toMatch(new RegExp(`^unit {6}${unit} \\(not installed\\)\\n`));
  });
});
