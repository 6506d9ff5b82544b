/**
 * tmux's control-mode lines (`tmux -C`) as typed notifications that carry their data, parsed in
 * one pure function. Ids keep tmux's sigils (`$1`, `@2`, `%3`), as every other tmux record here.
 */

/** A command's reply: `%begin`, then its output lines, then `%end` (success) or `%error`. */
export interface ControlBlock {
  time: number;
  /** The command number tmux gave the reply; the `%end`/`%error` carries the same one. */
  number: number;
  flags: number;
  /** The reply's output, filled in by the client (a single line says nothing of it). */
  lines: string[];
}

export type ControlNotification =
  | ({ type: 'begin' | 'end' | 'error' } & ControlBlock)
  | { type: 'output'; paneId: string; data: string }
  | { type: 'extended-output'; paneId: string; ageMs: number; data: string }
  | { type: 'window-add' | 'window-close' | 'unlinked-window-add' | 'unlinked-window-close'; windowId: string }
  | { type: 'window-renamed' | 'unlinked-window-renamed'; windowId: string; name: string }
  | { type: 'window-pane-changed'; windowId: string; paneId: string }
  | { type: 'layout-change'; windowId: string; layout: string }
  | { type: 'pane-mode-changed' | 'continue' | 'pause'; paneId: string }
  | { type: 'session-changed' | 'session-renamed'; sessionId: string; name: string }
  | { type: 'client-session-changed'; client: string; sessionId: string; name: string }
  | { type: 'session-window-changed'; sessionId: string; windowId: string }
  | { type: 'sessions-changed' }
  | { type: 'client-detached'; client: string }
  | { type: 'paste-buffer-changed' | 'paste-buffer-deleted'; name: string }
  | {
      type: 'subscription-changed';
      name: string;
      sessionId: string;
      /** Null for a session subscription; the pane's window otherwise. */
      windowId: string | null;
      windowIndex: number | null;
      /** Null unless the subscription is of a pane. */
      paneId: string | null;
      value: string;
    }
  | { type: 'message'; text: string }
  | { type: 'config-error'; error: string }
  /** The client is leaving; `reason` is tmux's (`detached`, `server exited`, …) when it gave one. */
  | { type: 'exit'; reason: string | null }
  /** A notification this tmux has and this parser does not know: kept, not dropped. */
  | { type: 'unknown'; name: string; args: string }
  // Not lines of the client: the `pane-died` hook of our windows signals a wait-for channel
  // (tmux 3.3 has no notification for it), and the client's own process can end.
  | { type: 'pane-died'; channel: string }
  | { type: 'detached' };

export type ControlNotificationType = ControlNotification['type'];

/** tmux escapes bytes below space, and `\`, as `\ooo` in pane output. */
export function unescapeOutput(data: string): string {
  return data.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** `text` cut at the first `count` spaces: the first `count` words, then the rest as is. */
function words(text: string, count: number): string[] {
  const out: string[] = [];
  let rest = text;
  for (let i = 0; i < count; i++) {
    const space = rest.indexOf(' ');
    if (space < 0) break;
    out.push(rest.slice(0, space));
    rest = rest.slice(space + 1);
  }
  out.push(rest);
  return out;
}

function int(text: string | undefined): number {
  return Number.parseInt(text ?? '', 10);
}

/** `-` (not given) as null. */
function given(text: string | undefined): string | null {
  return text === undefined || text === '-' ? null : text;
}

/**
 * One line of a control client's stdout as a notification; null for a line that is not one
 * (the body of a command's reply, or an empty line). Pure: a reply's body is the client's to track.
 */
export function parseControlLine(line: string): ControlNotification | null {
  if (!line.startsWith('%')) return null;
  const space = line.indexOf(' ');
  const name = space < 0 ? line.slice(1) : line.slice(1, space);
  const args = space < 0 ? '' : line.slice(space + 1);
  const [a = '', b = '', c = ''] = words(args, 2);
  switch (name) {
    case 'begin':
    case 'end':
    case 'error': {
      const [time, number, flags] = args.split(' ');
      return { type: name, time: int(time), number: int(number), flags: int(flags), lines: [] };
    }
    case 'output': {
      const [paneId = '', data = ''] = words(args, 1);
      return { type: 'output', paneId, data: unescapeOutput(data) };
    }
    case 'extended-output': {
      const colon = args.indexOf(' : ');
      const [paneId = '', age] = (colon < 0 ? args : args.slice(0, colon)).split(' ');
      return { type: 'extended-output', paneId, ageMs: int(age), data: colon < 0 ? '' : unescapeOutput(args.slice(colon + 3)) };
    }
    case 'window-add':
    case 'window-close':
    case 'unlinked-window-add':
    case 'unlinked-window-close':
      return { type: name, windowId: args };
    case 'window-renamed':
    case 'unlinked-window-renamed': {
      const [windowId = '', newName = ''] = words(args, 1);
      return { type: name, windowId, name: newName };
    }
    case 'window-pane-changed':
      return { type: name, windowId: a, paneId: words(args, 1)[1] ?? '' };
    case 'layout-change':
      return { type: name, windowId: a, layout: b };
    case 'pane-mode-changed':
    case 'continue':
    case 'pause':
      return { type: name, paneId: args };
    case 'session-changed':
    case 'session-renamed': {
      const [sessionId = '', newName = ''] = words(args, 1);
      return { type: name, sessionId, name: newName };
    }
    case 'client-session-changed':
      return { type: name, client: a, sessionId: b, name: c };
    case 'session-window-changed':
      return { type: name, sessionId: a, windowId: words(args, 1)[1] ?? '' };
    case 'sessions-changed':
      return { type: name };
    case 'client-detached':
      return { type: name, client: args };
    case 'paste-buffer-changed':
    case 'paste-buffer-deleted':
      return { type: name, name: args };
    case 'subscription-changed': {
      const colon = args.indexOf(' : ');
      const [subscription = '', sessionId = '', windowId, windowIndex, paneId] = (colon < 0 ? args : args.slice(0, colon)).split(' ');
      const index = given(windowIndex);
      return {
        type: name,
        name: subscription,
        sessionId,
        windowId: given(windowId),
        windowIndex: index === null ? null : int(index),
        paneId: given(paneId),
        value: colon < 0 ? '' : args.slice(colon + 3),
      };
    }
    case 'message':
      return { type: name, text: args };
    case 'config-error':
      return { type: name, error: args };
    case 'exit':
      return { type: name, reason: args === '' ? null : args };
    default:
      return { type: 'unknown', name, args };
  }
}
