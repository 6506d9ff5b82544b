/**
 * Shell completion as a person meets it: a real bash, zsh and fish in a tmux pane, the script
 * loaded the way the docs say, keys typed with send-keys and Tab, and the screen read back with
 * capture-pane. Session keys come from the state file alone: a `tmux` that records being run sits
 * first on the shells' PATH and must never be called.
 */
import { execa, execaSync } from 'execa';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Argument, Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bashCompletion } from '../src/cli/completion.js';
import { CLI_PATH, LONG, session, warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('completion');
const home = join(server.dir, 'home');
const bin = join(server.dir, 'bin');
const tmuxCalled = join(server.dir, 'tmux-was-called');
const stateFile = join(home, 'state.json');

function tmux(...args: string[]) {
  return execa('tmux', ['-L', server.socket, ...args]);
}

function installed(shell: string): boolean {
  const found = execaSync('sh', ['-c', `command -v ${shell}`], { reject: false }).exitCode === 0;
  // CI installs every shell (.ci/run): there a missing one is a failure, not a skip.
  if (!found && process.env.CI) throw new Error(`${shell} is not installed: .ci/run installs it`);
  return found;
}

beforeAll(async () => {
  mkdirSync(home, { recursive: true });
  mkdirSync(bin, { recursive: true });
  // `warden` as a user has it on PATH, and a `tmux` that only records that it was run.
  writeFileSync(join(bin, 'warden'), `#!/bin/sh\nexec '${process.execPath}' '${CLI_PATH}' "$@"\n`);
  writeFileSync(join(bin, 'tmux'), `#!/bin/sh\necho "$@" >> '${tmuxCalled}'\nexit 1\n`);
  chmodSync(join(bin, 'warden'), 0o755);
  chmodSync(join(bin, 'tmux'), 0o755);
  const w = warden(server, stateFile);
  for (const key of ['api-fix', 'api-docs', 'lint']) session(await w.run(['spawn', key, '--json', ...LONG]));
  // An ended key: completed by `history` only.
  session(await w.run(['spawn', 'old-one', '--json', ...LONG]));
  session(await w.run(['end', 'old-one', '--json']));
  // A second state file, named with a relative --state on the line.
  const other = warden(server, join(home, 'other.json'));
  session(await other.run(['spawn', 'elsewhere', '--json', ...LONG]));
}, 60_000);

afterAll(() => {
  // Completing keys never started (or even ran) tmux.
  expect(existsSync(tmuxCalled)).toBe(false);
});

/** A shell in a window of the test server, with only what a fresh login would have. */
async function openShell(name: string, argv: string[], setup: string): Promise<(typed: string, shows: RegExp) => Promise<string>> {
  const path = `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`;
  const env = ['env', '-i', `PATH=${path}`, `HOME=${home}`, 'TERM=xterm', 'LANG=C.UTF-8', `WARDEN_STATE=${stateFile}`];
  await tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '30', '-c', home, ...env, ...argv);
  await tmux('send-keys', '-t', `=${name}:`, '-l', setup);
  await tmux('send-keys', '-t', `=${name}:`, 'Enter');
  await tmux('send-keys', '-t', `=${name}:`, '-l', 'echo READY');
  await tmux('send-keys', '-t', `=${name}:`, 'Enter');
  const screen = async () => (await tmux('capture-pane', '-p', '-N', '-t', `=${name}:`)).stdout;
  await waitFor(async () => /^READY$/m.test(await screen()), `${name} to start`);
  /** Types `typed` on an empty line, presses Tab, and waits until the screen matches `shows`. */
  return async (typed, shows) => {
    await tmux('send-keys', '-t', `=${name}:`, 'C-u', 'C-l');
    await waitFor(async () => (await screen()).split('\n').slice(1).join('').trim() === '', `${name} to clear`);
    await tmux('send-keys', '-t', `=${name}:`, '-l', typed);
    await tmux('send-keys', '-t', `=${name}:`, 'Tab');
    let last = '';
    return waitFor(async () => {
      last = await screen();
      return shows.test(last) ? last : null;
    }, `${name} to show ${shows} after '${typed}'+Tab`).catch((err: Error) => {
      throw new Error(`${err.message}; the screen:\n${last.trimEnd()}`);
    });
  };
}

const ALL_KEYS = /api-docs\s+api-fix\s+lint/;

describe('completion in a real bash (source <(warden completion bash))', () => {
  let tab: Awaited<ReturnType<typeof openShell>>;
  beforeAll(async () => {
    tab = await openShell('bash', ['bash', '--norc', '--noprofile'], "PS1='$ '; bind 'set show-all-if-ambiguous on'; source <(warden completion bash)");
  });

  it('completes the session keys of every verb that takes one, from the state file', async () => {
    for (const verb of ['status', 'end', 'attach', 'send', 'logs']) {
      const screen = await tab(`warden ${verb} `, ALL_KEYS);
      expect(screen, verb).not.toContain('old-one');
    }
    expect(await tab('warden history ', /api-docs\s+api-fix\s+lint\s+old-one/)).toBeTruthy();
  });

  it('completes a unique key in place, then options and their values after it', async () => {
    await tab('warden spawn api-f', /^\$ warden spawn api-fix $/m);
    await tab('warden spawn api-fix --mo', /^\$ warden spawn api-fix --mode $/m);
    await tab('warden spawn api-fix --mode r', /^\$ warden spawn api-fix --mode resume $/m);
    await tab('warden completion ', /bash\s+fish\s+zsh/);
  });

  it('reads the state file the line names, relative to the shell', async () => {
    await tab('warden --state other.json status ', /^\$ warden --state other.json status elsewhere $/m);
    await tab('warden status --state=other.json ', /^\$ warden status --state=other.json elsewhere $/m);
  });
});

describe.skipIf(!installed('zsh'))('completion in a real zsh (source <(warden completion zsh), after compinit)', () => {
  let tab: Awaited<ReturnType<typeof openShell>>;
  beforeAll(async () => {
    tab = await openShell('zsh', ['zsh', '-f'], "PS1='%% '; autoload -U compinit; compinit -u -D; source <(warden completion zsh)");
  });

  it('completes keys, and options after KEY', async () => {
    await tab('warden status ', ALL_KEYS);
    await tab('warden spawn api-fix --mo', /^% warden spawn api-fix --mode $/m);
    await tab('warden send lint hello --no', /^--no-enter +-- do not press Enter/m);
    await tab('warden --state other.json end ', /^% warden --state other.json end elsewhere $/m);
  });

  it('completes the program after --', async () => {
    await tab('warden spawn k -- slee', /^% warden spawn k -- sleep $/m);
  });
});

describe.skipIf(!installed('fish'))('completion in a real fish (warden completion fish | source)', () => {
  let tab: Awaited<ReturnType<typeof openShell>>;
  beforeAll(async () => {
    tab = await openShell('fish', ['fish', '--no-config'], "function fish_prompt; printf '> '; end; warden completion fish | source");
  });

  it('completes verbs, keys, choices and options after KEY', async () => {
    await tab('warden sta', /^> warden status $/m);
    await tab('warden end ', ALL_KEYS);
    await tab('warden completion ', /bash\s+fish\s+zsh/);
    await tab('warden spawn lint --mo', /^> warden spawn lint --mode $/m);
    await tab('warden --state other.json logs ', /^> warden --state other.json logs elsewhere $/m);
  });
});

describe('keys for verbs added later', () => {
  /** What bash completes for the words typed so far (the last one being completed). */
  async function complete(script: string, words: string[]): Promise<string[]> {
    const file = join(server.dir, 'later.bash');
    writeFileSync(file, script);
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const { stdout } = await execa(
      'bash',
      ['-c', `source '${file}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _warden; printf '%s\\n' "\${COMPREPLY[@]}"`],
      { env: { PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`, WARDEN_STATE: stateFile } },
    );
    return stdout.split('\n').filter(Boolean);
  }

  it('come from the program: a verb with <key>, [key...] or a choice after KEY needs no edit here', async () => {
    const program = new Command('warden').option('--state <file>', 'state file');
    program.command('wait').argument('<key>').option('--until <states>', 'states');
    program.command('signal').argument('<key>').addArgument(new Argument('<activity>').choices(['busy', 'idle', 'waiting']));
    program.command('down').argument('[key...]');
    const script = bashCompletion(program);
    expect(await complete(script, ['warden', 'wait', ''])).toEqual(['api-docs', 'api-fix', 'lint']);
    expect(await complete(script, ['warden', 'wait', 'lint', '--un'])).toEqual(['--until']);
    expect(await complete(script, ['warden', 'signal', 'lint', ''])).toEqual(['busy', 'idle', 'waiting']);
    expect(await complete(script, ['warden', 'down', 'lint', 'api-'])).toEqual(['api-docs', 'api-fix']);
  });
});
