/**
 * The `warden` verbs that reach into a pane (send, attach; logs has cli-logs.test.ts) and the one
 * that stays running (watch), driven as subprocesses of the built CLI against a real tmux server
 * on a private socket.
 */
import { execa } from 'execa';
import { readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SessionInfoSchema, TransitionEventSchema } from '../src/model/schema.js';
import { LONG, cleanEnv, readState, refused, session, shellLine, warden, type Warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('cli-pane');
/** A second server: the "other tmux" a person may be sitting in when they attach. */
const outer = useTmuxServer('cli-pane-outer');
const { tmux } = server;

/** A line of watch --json, as the published schema describes it, with nothing more. */
const TransitionSchema = TransitionEventSchema.extend({ session: SessionInfoSchema.strict() }).strict();

async function logsUntil(w: Warden, key: string, test: (text: string) => boolean, args: string[] = []): Promise<string> {
  return waitFor(async () => {
    const { stdout } = await w.run(['logs', key, ...args]);
    return test(stdout) ? stdout : null;
  }, `the pane of ${key} to show what was expected`);
}

describe.concurrent('send KEY TEXT… [--no-enter], then logs KEY: the text round-trips', () => {
  it('types words joined by spaces, literally, and Enter', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'echo', '--json', '--', 'sh', '-c', 'while read -r line; do echo "got[$line]"; done']));
    const sent = await w.run(['send', 'echo', 'hello', 'world', '$HOME', 'C-c', ';']);
    expect(sent).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    const text = await logsUntil(w, 'echo', (t) => t.includes('got['));
    expect(text).toContain('got[hello world $HOME C-c ;]');
  });

  it('sends multi-line and long text through a buffer, each line arriving as typed', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'multi', '--json', '--', 'sh', '-c', 'while read -r line; do echo "got[$line]"; done']));
    const long = 'x'.repeat(600);
    expect((await w.run(['send', 'multi', `first line\nsecond\tline\n${long}`])).exitCode).toBe(0);
    const text = await logsUntil(w, 'multi', (t) => t.replace(/\n/g, '').includes(`got[${long}]`), ['-n', '100']);
    expect(text).toContain('got[first line]');
    // A tab is typed as a tab: the program echoes it, the bytes hold it, and the terminal shows it
    // as the spaces up to the next tab stop (one or more: the echo of the typed text may have
    // left the cursor anywhere on the line).
    expect(text).toMatch(/got\[second +line\]/);
    expect((await w.run(['logs', 'multi', '--raw'])).stdout).toContain('got[second\tline]');
    expect(text.replace(/\n/g, '')).toContain(`got[${long}]`);
  });

  it('takes text starting with - after --', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'dash', '--json', '--', 'sh', '-c', 'while read -r line; do echo "got[$line]"; done']));
    expect((await w.run(['send', 'dash', '--', '- fix the bug'])).exitCode).toBe(0);
    expect(await logsUntil(w, 'dash', (t) => t.includes('got['))).toContain('got[- fix the bug]');
  });

  it('refuses a session whose program exited (exit 3): the text would go nowhere', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'gone', '--json', '--', 'sh', '-c', 'exit 4']));
    await waitFor(async () => JSON.parse((await w.run(['status', 'gone', '--json'])).stdout).exitStatus === 4, 'gone to exit');
    refused(await w.run(['send', 'gone', 'hello']), 3, /gone has exited \(status 4\): resume it/);
  });

  it('--no-enter leaves the line open: the next send continues it', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'partial', '--json', '--', 'sh', '-c', 'read -r line; echo "got[$line]"; sleep 600']));
    expect((await w.run(['send', 'partial', '--no-enter', 'abc'])).exitCode).toBe(0);
    expect((await w.run(['send', 'partial', 'def'])).exitCode).toBe(0);
    const text = await logsUntil(w, 'partial', (t) => t.includes('got['));
    expect(text).toContain('got[abcdef]');
  });

  it('refuses control characters other than newline and tab (exit 2), sending nothing', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'ctl', '--json', '--', 'sh', '-c', 'read -r line; echo "got[$line]"; sleep 600']));
    const result = await w.run(['send', 'ctl', 'stop\x03now']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      "warden: the text contains control character U+0003: send types text (newline and tab included); press keys with 'tmux send-keys'\n",
    );
    await w.run(['send', 'ctl', 'after']);
    expect(await logsUntil(w, 'ctl', (t) => t.includes('got['))).toContain('got[after]');
  });

  it('to an unknown key is not found (4); to an orphaned session a conflict (3) naming resume', async () => {
    const w = warden(server);
    expect((await w.run(['send', 'nobody', 'hi'])).exitCode).toBe(4);
    const s = session(await w.run(['spawn', 'lost', '--json', ...LONG]));
    await tmux.run(['kill-window', '-t', s.windowId!]);
    const result = await w.run(['send', 'lost', 'hi']);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toBe("warden: lost is orphaned, not active: resume it with 'warden spawn lost --mode resume'\n");
  });
});

describe.concurrent('watch', () => {
  function startWatch(w: Warden, args: string[] = []) {
    const [bin, ...rest] = w.argv(['watch', '--interval', '100', ...args]);
    const child = execa(bin!, rest, { env: cleanEnv(), extendEnv: false, reject: false, buffer: false, stdin: 'ignore' });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return { child, out: () => stdout, err: () => stderr };
  }

  it('prints each transition as a line soon after a window is killed; SIGTERM stops it cleanly (exit 0)', async () => {
    const w = warden(server);
    const s = session(await w.run(['spawn', 'watched', '--json', ...LONG]));
    const watch = startWatch(w);
    await waitFor(() => watch.err().includes('watching'), 'watch to start');
    await tmux.run(['kill-window', '-t', s.windowId!]);
    const line = await waitFor(
      () => watch.out().split('\n').find((l) => /watched\s+active\.running\.\w+ → orphaned\s+\(WINDOW_GONE\)/.test(l)),
      'the transition line',
    );
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+Z {2}watched {2}active\.running\.(busy|idle) → orphaned {2}\(WINDOW_GONE\)$/);
    // Persist before report: the state file already says so.
    const state = readState(w.stateFile);
    expect(state.sessions.watched?.snapshot.value).toBe('orphaned');

    watch.child.kill('SIGTERM');
    const result = await watch.child;
    expect(result.exitCode).toBe(0);
    expect(watch.err()).toBe(`warden: watching ${w.stateFile} (Ctrl-C to stop)\n`);
    // Only this state file's temp files: tests running alongside write theirs in the same directory.
    const mine = `.${basename(w.stateFile)}.`;
    expect(readdirSync(dirname(w.stateFile)).filter((f) => f.startsWith(mine) && f.endsWith('.tmp'))).toEqual([]);
  });

  it('--json prints NDJSON transition events carrying the session object; Ctrl-C (SIGINT) exits 0', async () => {
    const w = warden(server);
    const watch = startWatch(w, ['--json']);
    await waitFor(() => watch.err().includes('watching'), 'watch to start');
    const s = session(await w.run(['spawn', 'brief', '--json', '--', 'sh', '-c', 'exit 7']));
    const exited = await waitFor(
      () =>
        watch
          .out()
          .split('\n')
          .filter(Boolean)
          .map((l) => TransitionSchema.parse(JSON.parse(l)))
          .find((t) => t.to === 'active.exited.stopped'),
      'the exit of brief',
    );
    expect(exited).toMatchObject({
      key: 'brief',
      sessionId: s.sessionId,
      from: expect.stringMatching(/^active\.running\.(busy|idle)$/),
      event: 'PANE_EXITED',
      origin: 'here',
      session: { key: 'brief', state: 'active', exitStatus: 7, sessionId: s.sessionId },
    });
    // The spawn was another process's: watch read it from the state file.
    const spawned = watch
      .out()
      .split('\n')
      .filter(Boolean)
      .map((l) => TransitionSchema.parse(JSON.parse(l)))
      .find((t) => t.key === 'brief' && t.to === 'active.running.busy');
    expect(spawned).toMatchObject({ event: 'state-file', origin: 'elsewhere' });
    watch.child.kill('SIGINT');
    expect((await watch.child).exitCode).toBe(0);
    expect(readState(w.stateFile).sessions.brief?.snapshot.context.exitStatus).toBe(7);
  });
});

describe.concurrent('attach KEY', () => {
  /**
   * The window each person's client shows, and the view (a session of its own, grouped with
   * `group`) it shows it through. A `watch` running alongside has a control-mode client: not a person.
   */
  async function clients(group = 'warden'): Promise<{ view: string; windowId: string }[]> {
    const out = await tmux.run(['list-clients', '-F', '#{client_control_mode} #{client_session} #{window_id}']).catch(() => '');
    return out
      .split('\n')
      .filter((line) => line.startsWith(`0 ${group}-view-`))
      .map((line) => {
        const [, view, windowId] = line.split(' ');
        return { view: view!, windowId: windowId! };
      });
  }
  const sessions = async () => (await tmux.run(['list-sessions', '-F', '#{session_name}'])).split('\n').filter(Boolean);
  /** A view younger than 2 s is spared by the cleanup (another attach may be about to show it): wait until it is older. */
  async function pastGrace(view: string): Promise<void> {
    const created = Number(await tmux.run(['display-message', '-p', '-t', `=${view}:`, '#{session_created}']));
    await waitFor(() => Date.now() / 1000 > created + 2.5, `${view} to be older than the grace`);
  }

  /** A person in another tmux server (or a terminal) types `warden ARGS` in a shell. */
  async function inTerminal(name: string, argv: string[]): Promise<void> {
    await outer.tmux.run(['new-session', '-d', '-s', name, '-x', '120', '-y', '40', 'sh']);
    await outer.tmux.run(['send-keys', '-t', `=${name}:`, '-l', shellLine(argv)]);
    await outer.tmux.run(['send-keys', '-t', `=${name}:`, 'Enter']);
  }

  it('from another tmux (or a plain terminal) attaches in a view of its own; from inside its own server switches the client', async () => {
    const w = warden(server);
    const shell = session(await w.run(['spawn', 'shell', '--json', '--', 'sh']));
    const target = session(await w.run(['spawn', 'target', '--json', ...LONG]));
    expect(await clients()).toEqual([]);

    // A person in another tmux server runs `warden attach shell`: a nested client of ours appears.
    await inTerminal('person', w.argv(['attach', 'shell']));
    const first = await waitFor(async () => (await clients()).find((c) => c.windowId === shell.windowId), 'a client attached to the shell window');
    await pastGrace(first.view);

    // In that window (inside our server, $TMUX is ours) `warden attach target` switches the client.
    await tmux.run(['send-keys', '-t', shell.paneId!, '-l', shellLine(w.argv(['attach', 'target']))]);
    await tmux.run(['send-keys', '-t', shell.paneId!, 'Enter']);
    await waitFor(async () => (await clients()).some((c) => c.windowId === target.windowId), 'the client switched to the target window');
    expect(await clients()).toHaveLength(1);
    // The view it left shows nobody any more: tmux destroyed it.
    await waitFor(async () => !(await sessions()).includes(first.view), 'the view left behind to be destroyed');
  });

  it('two terminals attaching two keys each keep showing their own; a detached view is destroyed', async () => {
    const w = warden(server);
    const left = session(await w.run(['spawn', 'left', '--json', '--group', 'side', ...LONG]));
    const right = session(await w.run(['spawn', 'right', '--json', '--group', 'side', ...LONG]));
    await inTerminal('left-terminal', w.argv(['attach', 'left']));
    await waitFor(async () => (await clients('side')).some((c) => c.windowId === left.windowId), 'the left terminal to attach');
    await inTerminal('right-terminal', w.argv(['attach', 'right']));
    await waitFor(async () => (await clients('side')).some((c) => c.windowId === right.windowId), 'the right terminal to attach');
    // The second attach did not move the first terminal.
    const both = await clients('side');
    expect(both.map((c) => c.windowId).sort()).toEqual([left.windowId, right.windowId].sort());
    expect(new Set(both.map((c) => c.view)).size).toBe(2);

    // A view shows the group's windows, yet each session is probed once and stays as it was.
    const listed = z.object({ sessions: z.array(SessionInfoSchema.strict()) }).parse(JSON.parse((await w.run(['ls', '--json'])).stdout));
    expect(listed.sessions.map((s) => [s.key, s.state, s.windowId])).toEqual([
      ['left', 'active', left.windowId],
      ['right', 'active', right.windowId],
    ]);

    const leftView = both.find((c) => c.windowId === left.windowId)!.view;
    await pastGrace(leftView);
    await tmux.run(['detach-client', '-s', `=${leftView}:`]);
    await waitFor(async () => !(await sessions()).includes(leftView), 'the detached view to be destroyed');
    expect(await clients('side')).toEqual([both.find((c) => c.windowId === right.windowId)]);
    expect(await sessions()).toContain('side');
  });

  it('without a terminal is refused (exit 2); an unknown key is not found (4); an orphaned one a conflict (3)', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'noterm', '--json', ...LONG]));
    expect(await w.run(['attach', 'noterm'])).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'warden: attach needs a terminal: run it from an interactive shell (or inside tmux)\n',
    });
    expect((await w.run(['attach', 'nobody'])).exitCode).toBe(4);
    const s = session(await w.run(['spawn', 'gone', '--json', ...LONG]));
    await tmux.run(['kill-window', '-t', s.windowId!]);
    expect((await w.run(['attach', 'gone'])).exitCode).toBe(3);
  });
});

describe.concurrent('ls on a terminal', () => {
  it('colours the table when stdout is a TTY (a tmux pane)', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'tty', '--json', ...LONG]));
    const viewer = session(await w.run(['spawn', 'viewer', '--json', '--', 'sh']));
    const line = `env -u NO_COLOR -u FORCE_COLOR ${shellLine(w.argv(['ls']))}`;
    await tmux.run(['send-keys', '-t', viewer.paneId!, '-l', line]);
    await tmux.run(['send-keys', '-t', viewer.paneId!, 'Enter']);
    const screen = await waitFor(async () => {
      const text = await tmux.run(['capture-pane', '-e', '-p', '-t', viewer.paneId!]);
      return /viewer/.test(text.split('\n').slice(1).join('\n')) ? text : null;
    }, 'the ls table in the pane');
    expect(screen).toMatch(/\x1b\[32mrunning/);
  });
});

