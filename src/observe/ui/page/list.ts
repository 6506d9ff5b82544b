/**
 * The session table, a page at a time: hundreds of sessions cost one page of rows in the DOM,
 * and a live update redraws only that page. Sorted by key; the filter matches key, state,
 * activity, labels, branch and command.
 */
import type { SessionView } from '../protocol.js';
import { age } from '../../../model/age.js';
import { activityWords, branchOf, labelWords, searchText, stateWord } from './format.js';

export const PAGE_SIZE = 50;

/** A glyph per state as well as a colour, so states read apart in greyscale too. */
const GLYPH: Record<string, string> = { running: '●', exited: '■', orphaned: '✕', spawning: '◌', ending: '◌', normal: '○' };

export interface SessionList {
  render(sessions: Map<string, SessionView>, selected: string | null): void;
}

export function sessionList(onSelect: (key: string) => void): SessionList {
  const body = document.querySelector<HTMLTableSectionElement>('#session-table tbody')!;
  const filter = document.querySelector<HTMLInputElement>('#filter')!;
  const count = document.querySelector<HTMLElement>('#count')!;
  const info = document.querySelector<HTMLElement>('#page-info')!;
  const prev = document.querySelector<HTMLButtonElement>('#prev')!;
  const next = document.querySelector<HTMLButtonElement>('#next')!;
  const empty = document.querySelector<HTMLElement>('#empty')!;
  let page = 0;
  let last: { sessions: Map<string, SessionView>; selected: string | null } = { sessions: new Map(), selected: null };

  const cell = (row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement => {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  };

  const render = (sessions: Map<string, SessionView>, selected: string | null) => {
    last = { sessions, selected };
    const query = filter.value.trim().toLowerCase();
    const shown = [...sessions.values()]
      .filter((s) => !query || searchText(s).includes(query))
      .sort((a, b) => a.key.localeCompare(b.key));
    const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    const slice = shown.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    const now = Date.now();
    // A live update must not take the keyboard focus away from the row it was on.
    const focused = body.contains(document.activeElement) ? document.activeElement?.closest('tr')?.dataset.key : undefined;
    body.replaceChildren();
    for (const s of slice) {
      const row = body.insertRow();
      row.dataset.key = s.key;
      if (s.key === selected) row.setAttribute('aria-current', 'true');
      const th = document.createElement('th');
      th.scope = 'row';
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'key';
      button.textContent = s.key;
      button.addEventListener('click', () => onSelect(s.key));
      th.appendChild(button);
      row.appendChild(th);
      const word = stateWord(s);
      const state = cell(row, `${GLYPH[word] ?? '•'} ${word}`, 'state');
      state.dataset.state = word;
      cell(row, activityWords(s, now));
      cell(row, s.exitStatus === null ? '-' : String(s.exitStatus));
      cell(row, labelWords(s.labels));
      cell(row, branchOf(s));
      cell(row, age(s.createdAt, now));
      if (s.key === focused) button.focus();
    }
    empty.hidden = sessions.size > 0;
    // A live region is announced when its text changes: set it only then.
    const say = (el: HTMLElement, text: string) => el.textContent !== text && (el.textContent = text);
    say(count, query ? `${shown.length} of ${sessions.size} match` : `${sessions.size} session${sessions.size === 1 ? '' : 's'}`);
    say(info, shown.length ? `${page * PAGE_SIZE + 1}–${page * PAGE_SIZE + slice.length} of ${shown.length} (page ${page + 1} of ${pages})` : '');
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  };

  filter.addEventListener('input', () => {
    page = 0;
    render(last.sessions, last.selected);
  });
  prev.addEventListener('click', () => {
    page -= 1;
    render(last.sessions, last.selected);
  });
  next.addEventListener('click', () => {
    page += 1;
    render(last.sessions, last.selected);
  });
  return { render };
}
