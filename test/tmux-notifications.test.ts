/**
 * Control-mode lines as typed notifications: each one carries the data tmux printed with it.
 */
import { describe, expect, it } from 'vitest';
import { parseControlLine, unescapeOutput } from '../src/tmux/control.js';

describe('parseControlLine: a window closing or appearing names the window', () => {
  it('reads window-close, unlinked-window-close and window-add', () => {
    expect(parseControlLine('%window-close @3')).toEqual({ type: 'window-close', windowId: '@3' });
    expect(parseControlLine('%unlinked-window-close @12')).toEqual({ type: 'unlinked-window-close', windowId: '@12' });
    expect(parseControlLine('%window-add @4')).toEqual({ type: 'window-add', windowId: '@4' });
    expect(parseControlLine('%window-renamed @4 my key with spaces')).toEqual({
      type: 'window-renamed',
      windowId: '@4',
      name: 'my key with spaces',
    });
  });
});

describe('parseControlLine: pane output carries its pane and its text', () => {
  it('unescapes the octal escapes tmux writes for control bytes and backslashes', () => {
    expect(parseControlLine('%output %1 hello world\\015\\012')).toEqual({ type: 'output', paneId: '%1', data: 'hello world\r\n' });
    expect(unescapeOutput('a\\134b')).toBe('a\\b');
  });

  it('reads extended output with its age', () => {
    expect(parseControlLine('%extended-output %2 120 : done\\012')).toEqual({
      type: 'extended-output',
      paneId: '%2',
      ageMs: 120,
      data: 'done\n',
    });
  });
});

describe('parseControlLine: subscriptions report their value', () => {
  it('reads a pane subscription, with a value holding spaces and colons', () => {
    expect(parseControlLine('%subscription-changed activity $1 @2 0 %3 : busy: 3 lines')).toEqual({
      type: 'subscription-changed',
      name: 'activity',
      sessionId: '$1',
      windowId: '@2',
      windowIndex: 0,
      paneId: '%3',
      value: 'busy: 3 lines',
    });
  });

  it('reads a session subscription, whose window and pane are not given', () => {
    expect(parseControlLine('%subscription-changed count $0 - - - : ')).toMatchObject({
      windowId: null,
      windowIndex: null,
      paneId: null,
      value: '',
    });
  });
});

describe('parseControlLine: replies, sessions, modes and leaving', () => {
  it('reads the numbers of a reply block', () => {
    expect(parseControlLine('%begin 1700000000 42 1')).toEqual({ type: 'begin', time: 1700000000, number: 42, flags: 1, lines: [] });
    expect(parseControlLine('%error 1700000000 42 1')).toMatchObject({ type: 'error', number: 42 });
  });

  it('reads session and pane-mode changes', () => {
    expect(parseControlLine('%sessions-changed')).toEqual({ type: 'sessions-changed' });
    expect(parseControlLine('%session-changed $2 warden')).toEqual({ type: 'session-changed', sessionId: '$2', name: 'warden' });
    expect(parseControlLine('%client-session-changed /dev/pts/3 $2 my group')).toEqual({
      type: 'client-session-changed',
      client: '/dev/pts/3',
      sessionId: '$2',
      name: 'my group',
    });
    expect(parseControlLine('%pane-mode-changed %7')).toEqual({ type: 'pane-mode-changed', paneId: '%7' });
    expect(parseControlLine('%layout-change @1 b25d,80x24,0,0,1 b25d,80x24,0,0,1 *')).toMatchObject({ windowId: '@1', layout: 'b25d,80x24,0,0,1' });
  });

  it('reads exit with and without a reason', () => {
    expect(parseControlLine('%exit')).toEqual({ type: 'exit', reason: null });
    expect(parseControlLine('%exit server exited')).toEqual({ type: 'exit', reason: 'server exited' });
  });

  it('keeps a notification it does not know, and is silent on lines that are none', () => {
    expect(parseControlLine('%window-closed-but-not-really @1')).toEqual({ type: 'unknown', name: 'window-closed-but-not-really', args: '@1' });
    expect(parseControlLine('plain reply line')).toBeNull();
    expect(parseControlLine('')).toBeNull();
  });
});
