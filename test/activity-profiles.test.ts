/**
 * Activity, pure: the profiles (which one a command gets, what a quiet screen says under each
 * built-in) and the machine's activity rows (a signal's hold, output ending it), without tmux.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { activityIn } from '../machines/paths.js';
import { activityEvent, quietEvent, READ_SCREEN, signalEvent } from '../machines/probe.js';
import { sessionMachine } from '../machines/session.js';
import { BUILTIN_PROFILES, ProfileBook, ProfilesSchema, programsOf, readScreen } from '../src/activity/profiles.js';
import { spec } from './support/snapshots.js';

describe('which profile a command gets', () => {
  const book = new ProfileBook();
  it.each([
    [['claude', '--session-id', 'x'], 'claude'],
    [['/usr/local/bin/codex'], 'codex'],
    [['npx', '-y', '@openai/codex@0.40'], 'codex'],
    [['sh', '-c', 'FOO=1 exec gemini --yolo'], 'gemini'],
    [['aider', '--model', 'x'], 'aider'],
    [['opencode'], 'opencode'],
    [['bash'], 'shell'],
    [['zsh', '-l'], 'shell'],
  ])('%j runs under %s', (command, name) => {
    expect(book.resolve(command)?.name).toBe(name);
  });

  it('none for a program no profile knows: silence alone decides', () => {
    expect(book.resolve(['sleep', '600'])).toBeNull();
    expect(book.resolve(['sh', '-c', 'make test'])).toBeNull();
    expect(programsOf(['sh', '-c', 'make test'])).toEqual(['make']);
  });

  it('--profile names one; a user profile adds to the built-ins, or replaces one of the same name', () => {
    expect(book.resolve(['my-agent'], 'codex')?.name).toBe('codex');
    const user = new ProfileBook(ProfilesSchema.parse({ mine: { commands: ['my-agent'], waiting: ['ready>'] }, claude: { quietMs: 5000 } }));
    expect(user.resolve(['my-agent'])?.name).toBe('mine');
    expect(user.get('claude')?.quietMs).toBe(5000);
    expect(user.names()).toContain('gemini');
  });

  it('refuses a user profile with a bad pattern or an unknown field, naming it', () => {
    const bad = ProfilesSchema.safeParse({ mine: { waiting: ['(unclosed'] } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({ path: ['mine', 'waiting', 0], message: 'not a valid regular expression' });
    expect(ProfilesSchema.safeParse({ mine: { quiet: 5 } }).success).toBe(false);
  });
});

describe('what a quiet screen says under each built-in profile', () => {
  const read = (name: string, screen: string) => readScreen(BUILTIN_PROFILES[name]!, screen);
  it.each([
    ['claude', '● Done.\n╭────╮\n│ >  │\n╰────╯\n  ? for shortcuts', 'waiting'],
    ['claude', 'Do you want to proceed?\n❯ 1. Yes\n  2. No', 'waiting'],
    ['claude', '  ⎿  API Error: 529 overloaded\n╭────╮\n│ >  │\n╰────╯', 'idle'],
    ['claude', '✻ Thinking… (12s · esc to interrupt)\n╭────╮\n│ >  │\n╰────╯', 'busy'],
    ['codex', '› \n  ⏎ send   ⌃J newline', 'waiting'],
    ['codex', 'Allow command? (y/n)', 'waiting'],
    ['codex', '■ stream error: disconnected\n› ', 'idle'],
    ['aider', 'Add file.py to the chat? (Y)es/(N)o [Yes]:', 'waiting'],
    ['aider', 'architect> ', 'waiting'],
    ['gemini', '│ > Type your message or @path/to/file │', 'waiting'],
    ['gemini', '✕ [API Error: quota exceeded]', 'idle'],
    ['opencode', 'Permission required: bash\nAllow once  Allow always  Reject', 'waiting'],
    ['shell', 'user@host:~/src$ ', 'waiting'],
    ['shell', 'compiling…', 'idle'],
  ])('%s: %j is %s', (name, screen, activity) => {
    expect(read(name, screen).activity).toBe(activity);
  });

  it('no profile: quiet is idle by silence, the screen unread', () => {
    expect(readScreen(null, 'Do you want to proceed?')).toEqual({ activity: 'idle', source: 'silence', matched: null });
  });
});

describe('the activity rows of the machine', () => {
  function running() {
    const actor = createActor(sessionMachine.provide({ actors: {} }), {
      input: { key: 'k' },
      snapshot: sessionMachine.resolveState({
        value: { active: { running: 'busy' } },
        context: {
          key: 'k', sessionId: 's', spec: spec(['claude']), launch: 'create', windowId: '@1', paneId: '%1', pid: 1,
          exitStatus: null, createdAt: null, error: null, next: null,
          activity: { since: new Date(1000).toISOString(), source: 'silence', outputAt: null, matched: null },
        },
      }) as never,
    });
    actor.start();
    return actor;
  }
  const quiet = (activity: 'idle' | 'waiting') => quietEvent({ activity, source: 'pattern', matched: '│ >' }, { lastOutputAt: 1000, now: 5000 })!;

  it('quiet decides busy → waiting; output after it makes it busy again', () => {
    const actor = running();
    actor.send(quiet('waiting'));
    expect(activityIn(actor.getSnapshot().value)).toBe('waiting');
    actor.send({ type: 'OUTPUT', at: new Date(6000).toISOString(), outputAt: 6000 });
    expect(actor.getSnapshot().context.activity).toMatchObject({ source: 'silence', outputAt: 6000 });
    expect(activityIn(actor.getSnapshot().value)).toBe('busy');
  });

  it('a busy signal holds against quiet until output after it', () => {
    const actor = running();
    actor.send(signalEvent('busy', 2000));
    actor.send(quiet('waiting'));
    expect(activityIn(actor.getSnapshot().value)).toBe('busy');
    expect(actor.getSnapshot().context.activity?.source).toBe('signal');
    actor.send({ type: 'OUTPUT', at: new Date(6000).toISOString(), outputAt: 6000 });
    expect(actor.getSnapshot().context.activity?.source).toBe('silence');
    actor.send(quiet('idle'));
    expect(activityIn(actor.getSnapshot().value)).toBe('idle');
  });

  it('the probe maps output, quiet and a signal’s echo', () => {
    const busy = { activity: { since: new Date(1000).toISOString(), source: 'silence' as const, outputAt: null, matched: null } };
    expect(activityEvent({ active: { running: 'busy' } }, busy, { lastOutputAt: 1500, now: 2000, quietMs: 1000 })).toBeNull();
    expect(activityEvent({ active: { running: 'busy' } }, busy, { lastOutputAt: 1500, now: 2600, quietMs: 1000 })).toBe(READ_SCREEN);
    const waiting = { activity: { since: new Date(3000).toISOString(), source: 'pattern' as const, outputAt: 2999, matched: null } };
    expect(activityEvent({ active: { running: 'waiting' } }, waiting, { lastOutputAt: 2999, now: 9000, quietMs: 1000 })).toBeNull();
    expect(activityEvent({ active: { running: 'waiting' } }, waiting, { lastOutputAt: 4000, now: 9000, quietMs: 1000 })).toMatchObject({ type: 'OUTPUT' });
    // A hook fires, then the agent draws its prompt: that echo is not work.
    const signal = signalEvent('waiting', 10_000) as { outputAt: number };
    const held = { activity: { since: new Date(10_000).toISOString(), source: 'signal' as const, outputAt: signal.outputAt, matched: null } };
    expect(activityEvent({ active: { running: 'waiting' } }, held, { lastOutputAt: 10_900, now: 11_000, quietMs: 1000 })).toBeNull();
    expect(activityEvent('orphaned', held, { lastOutputAt: 20_000, now: 21_000, quietMs: 1000 })).toBeNull();
  });
});
