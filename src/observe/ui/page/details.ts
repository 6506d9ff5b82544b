/**
 * The selected session: its facts, the actions (each a POST with the token, answered with the
 * CLI's message or its error), its statechart with the state marked, its recent transitions and
 * the tail of its pane.
 */
import type { SessionView, TransitionView, UiAction } from '../protocol.js';
import { act, fetchLog } from './api.js';
import { markState, triggerWords } from './chart.js';
import { age } from '../../../model/age.js';
import { activityWords, labelWords, pathWords } from './format.js';

const LOG_REFRESH_MS = 2000;

export interface Details {
  show(session: SessionView | undefined, transitions: TransitionView[]): void;
}

export function details(): Details {
  const title = document.querySelector<HTMLElement>('#details-title')!;
  const body = document.querySelector<HTMLElement>('#details-body')!;
  const facts = document.querySelector<HTMLElement>('#facts')!;
  const result = document.querySelector<HTMLElement>('#action-result')!;
  const svg = document.querySelector<HTMLElement>('#chart-svg')!;
  const caption = document.querySelector<HTMLElement>('#chart-caption')!;
  const list = document.querySelector<HTMLOListElement>('#transitions')!;
  const log = document.querySelector<HTMLElement>('#log')!;
  const sendForm = document.querySelector<HTMLFormElement>('#send-form')!;
  const sendText = document.querySelector<HTMLInputElement>('#send-text')!;
  const sendEnter = document.querySelector<HTMLInputElement>('#send-enter')!;
  let current: SessionView | undefined;

  const say = (text: string, failed: boolean) => {
    result.textContent = failed ? `Refused: ${text}` : text;
    result.dataset.outcome = failed ? 'error' : 'ok';
  };

  const run = async (action: UiAction, payload: unknown = {}) => {
    if (!current) return;
    const key = current.key;
    if ((action === 'end' || action === 'fresh') && !confirm(`${action === 'end' ? 'End' : 'Restart'} ${key}? Its program is stopped.`)) return;
    say(`${action} ${key}…`, false);
    try {
      say(await act(key, action, payload), false);
      if (action === 'send') sendText.value = '';
    } catch (err) {
      say(err instanceof Error ? err.message : String(err), true);
    }
  };

  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-action]')) {
    button.addEventListener('click', () => void run(button.dataset.action as UiAction));
  }
  sendForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void run('send', { text: sendText.value, enter: sendEnter.checked });
  });

  const refreshLog = async () => {
    const key = current?.key;
    if (!key || document.hidden) return;
    try {
      const text = await fetchLog(key);
      if (current?.key === key) log.textContent = text || '(the pane is empty)';
    } catch (err) {
      if (current?.key === key) log.textContent = `No log tail: ${err instanceof Error ? err.message : String(err)}`;
    }
  };
  setInterval(() => void refreshLog(), LOG_REFRESH_MS);

  const fact = (name: string, value: string) => {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.textContent = value;
    facts.append(dt, dd);
  };

  return {
    show(session, transitions) {
      const changedKey = session?.key !== current?.key;
      current = session;
      if (!session) {
        title.textContent = 'No session selected';
        body.hidden = true;
        return;
      }
      if (changedKey) {
        result.textContent = '';
        delete result.dataset.outcome;
        sendText.value = '';
        log.textContent = '…';
      }
      title.textContent = session.key;
      body.hidden = false;
      facts.replaceChildren();
      const now = Date.now();
      fact('State', pathWords(session.statePath) + (session.exitStatus === null ? '' : ` (exit status ${session.exitStatus})`));
      if ('activity' in session) fact('Activity', activityWords(session, now) + (session.activitySource ? ` (from ${session.activitySource})` : ''));
      fact('Session id', session.sessionId ?? '-');
      fact('Command', session.command.join(' ') || '-');
      fact('Directory', session.cwd ?? '-');
      fact('Labels', labelWords(session.labels));
      fact('Created', session.createdAt ? `${session.createdAt} (${age(session.createdAt, now)} ago)` : '-');
      if (session.worktree) fact('Worktree', `${session.worktree.path ?? '-'}${session.worktree.branch ? ` (branch ${session.worktree.branch})` : ''}`);
      if (session.restarts !== undefined && session.restarts !== null) fact('Restarts', String(session.restarts));
      if (session.logFile) fact('Log file', session.logFile);
      if (session.serverPid !== undefined && session.serverPid !== null) fact('tmux server pid', String(session.serverPid));
      markState(svg, caption, session, transitions.at(-1));
      list.replaceChildren(
        ...[...transitions].reverse().map((t) => {
          const item = document.createElement('li');
          const time = document.createElement('time');
          time.dateTime = t.at;
          time.textContent = t.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
          const cause = t.origin === 'elsewhere' ? 'by another process' : triggerWords(t.event);
          item.append(time, ` ${pathWords(t.from)} → ${pathWords(t.to)} (${cause})`);
          return item;
        }),
      );
      if (transitions.length === 0) {
        const item = document.createElement('li');
        item.textContent = 'none since warden ui started';
        list.append(item);
      }
      if (changedKey) void refreshLog();
    },
  };
}
