/**
 * Living beside tmux-resurrect: it restores warden's windows with their names but not their tags,
 * as plain shells. The session stays orphaned (no tag, not ours), and ls, up and doctor point the
 * look-alike window out without touching it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readState, warden } from './support/cli.js';
import { useTmuxServer } from './support/tmux-server.js';

const server = useTmuxServer('resurrect');

describe('untagged windows named like an orphaned session', () => {
  it('are pointed out by ls, up and doctor, and never touched', async () => {
    const w = warden(server);
    expect((await w.run(['spawn', 'agent', '--', 'sleep', '600'])).exitCode).toBe(0);
    expect((await w.run(['spawn', 'other', '--', 'sleep', '600'])).exitCode).toBe(0);
    const { windowId } = readState(w.stateFile).sessions.agent!.snapshot.context;
    // As a reboot and a resurrect restore would leave it: the window gone, a plain one of that name back.
    await server.tmux.run(['kill-window', '-t', windowId!]);
    const restored = (await server.tmux.run(['new-window', '-d', '-P', '-F', '#{window_id}', '-t', '=warden:', '-n', 'agent', 'sleep', '600'])).trim();
    // Named like a running session, it is nobody's business here.
    await server.tmux.run(['new-window', '-d', '-t', '=warden:', '-n', 'other', 'sleep', '600']);

    const ls = await w.run(['ls']);
    expect(ls.exitCode).toBe(0);
    expect(ls.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^warden: window ${restored} "agent" in tmux session warden has no warden tag .*it is not session agent, which stays orphaned, and warden leaves it alone`)),
    ]);
    expect(readState(w.stateFile).sessions.agent!.snapshot.value).toBe('orphaned');

    const file = join(server.dir, 'warden.yaml');
    writeFileSync(file, 'sessions:\n  unrelated:\n    command: [sleep, "600"]\n');
    const up = await w.run(['up', '-f', file]);
    expect(up.exitCode).toBe(0);
    expect(up.stderr).toContain(`window ${restored} "agent"`);

    const doctor = await w.run(['doctor', '--json']);
    const report = JSON.parse(doctor.stdout) as { problems: string[] };
    expect(report.problems.filter((p) => p.includes(`window ${restored} "agent"`))).toHaveLength(1);
    // Untouched throughout.
    expect((await server.tmux.run(['list-windows', '-t', '=warden', '-F', '#{window_id} #{window_name}'])).split('\n')).toContain(`${restored} agent`);
  });
});
