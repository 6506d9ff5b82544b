/**
 * The `warden ui` page: the session list and the selected session, fed by the server's event
 * stream (a `reset` with everything, then `update`s with what changed). The selection is kept in
 * the URL's fragment (`#api-fix`), so a reload or a shared link opens the same session.
 */
import type { ResetMessage, SessionView, TransitionView, UpdateMessage } from '../protocol.js';
import { eventsUrl, fetchChart } from './api.js';
import { details } from './details.js';
import { sessionList } from './list.js';
import './style.css';

const RECENT = 20;
const sessions = new Map<string, SessionView>();
const recent = new Map<string, TransitionView[]>();
const connection = document.querySelector<HTMLElement>('#connection')!;
let selected: string | null = decodeURIComponent(location.hash.slice(1)) || null;

const panel = details();
const list = sessionList((key) => {
  selected = key;
  history.replaceState(null, '', `${location.search}#${encodeURIComponent(key)}`);
  render();
  document.querySelector<HTMLElement>('#details')!.focus();
});

function render(): void {
  list.render(sessions, selected);
  panel.show(selected ? sessions.get(selected) : undefined, selected ? (recent.get(selected) ?? []) : []);
}

function remember(t: TransitionView): void {
  const kept = recent.get(t.key) ?? [];
  kept.push(t);
  if (kept.length > RECENT) kept.shift();
  recent.set(t.key, kept);
}

function connect(): void {
  const source = new EventSource(eventsUrl());
  source.addEventListener('reset', (event) => {
    const message = JSON.parse((event as MessageEvent<string>).data) as ResetMessage;
    sessions.clear();
    recent.clear();
    for (const s of message.sessions) sessions.set(s.key, s);
    for (const t of message.recent) remember(t);
    connection.textContent = 'live';
    connection.dataset.live = 'true';
    render();
  });
  source.addEventListener('update', (event) => {
    const message = JSON.parse((event as MessageEvent<string>).data) as UpdateMessage;
    for (const s of message.upsert) sessions.set(s.key, s);
    for (const key of message.remove) {
      sessions.delete(key);
      recent.delete(key);
    }
    for (const t of message.transitions) if (sessions.has(t.key)) remember(t);
    render();
  });
  source.addEventListener('error', () => {
    // EventSource reconnects by itself; the page says the picture may be stale meanwhile.
    connection.textContent = source.readyState === EventSource.CLOSED ? 'disconnected: is warden ui still running? Reload to retry.' : 'reconnecting…';
    connection.dataset.live = 'false';
  });
}

function start(): void {
  // The list does not wait for the diagram: Mermaid takes a moment to draw it.
  connect();
  Promise.all([fetchChart(), import('./draw.js')])
    .then(([chart, { drawChart }]) => drawChart(chart, document.querySelector<HTMLElement>('#chart-svg')!))
    .then(render)
    .catch((err: unknown) => {
      document.querySelector<HTMLElement>('#chart-caption')!.textContent = `The statechart cannot be drawn: ${err instanceof Error ? err.message : String(err)}`;
    });
  // Ages on the page move on even when nothing changes.
  setInterval(render, 10_000);
}

start();
