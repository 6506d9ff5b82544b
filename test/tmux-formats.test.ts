/**
 * What tmux is given and what it prints: user data stays data, records parse in one place.
 */
import { execaSync } from 'execa';
import { describe, expect, it } from 'vitest';
import { FIELD_SEP, literalArg, parsePaneLine, parseWindowRef, shellQuote } from '../src/tmux/formats.js';

describe('shellQuote: an argv survives sh -c word for word', () => {
  it('quotes what the shell would read, and leaves plain words alone', () => {
    expect(shellQuote(['echo', 'plain-word'])).toBe('echo plain-word');
    expect(shellQuote(['a b', "it's", '$HOME', ''])).toBe(`'a b' 'it'\\''s' '$HOME' ''`);
  });

  it('round-trips through a real shell', () => {
    const argv = ['x y', "q'uote", '$(false)', '*', 'semi;', 'new\nline', ''];
    const out = execaSync('sh', ['-c', `printf '%s\\0' ${shellQuote(argv)}`]).stdout;
    expect(out.split('\0').slice(0, -1)).toEqual(argv);
  });
});

describe('literalArg: a trailing ; is data, not the end of a tmux command', () => {
  it('escapes only a final semicolon', () => {
    expect(literalArg('make;')).toBe('make\\;');
    expect(literalArg('a;b')).toBe('a;b');
  });
});

describe('parsePaneLine / parseWindowRef: the fixed field lists', () => {
  it('keeps a window name holding the delimiter whole, and reads a killed program as 128 + signal', () => {
    const line = ['warden', '@1', 'sid', '%2', '123', '1', '', '15', 'sid', '42', '1700000000', `odd${FIELD_SEP}name`].join(FIELD_SEP);
    expect(parsePaneLine(line)).toEqual({
      sessionName: 'warden',
      windowId: '@1',
      windowName: `odd${FIELD_SEP}name`,
      tag: 'sid',
      paneTag: 'sid',
      paneId: '%2',
      pid: 123,
      dead: true,
      exitStatus: 143,
      // tmux's window_activity (seconds) in milliseconds: when the window last printed.
      activityAt: 1_700_000_000_000,
      serverPid: 42,
    });
    expect(parsePaneLine('too few')).toBeNull();
  });

  it('refuses output that names no window', () => {
    expect(parseWindowRef(['@4', '%9', '77', '42'].join(FIELD_SEP) + '\n')).toEqual({ windowId: '@4', paneId: '%9', pid: 77, serverPid: 42 });
    expect(parseWindowRef('garbage')).toBeNull();
  });
});
