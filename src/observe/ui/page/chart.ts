/**
 * A session's state marked on the drawn statechart: a thick outline and a "now" label on the
 * state and its parents, a dashed outline on the state it came from, and the same in words in
 * the caption.
 */
import type { ChartView, SessionView, TransitionView } from '../protocol.js';
import { pathWords } from './format.js';

let chart: ChartView | null = null;

/** Called once the diagram is in the page. */
export function chartDrawn(view: ChartView): void {
  chart = view;
}

/** The SVG group Mermaid drew for a state path (`statechart-state-active_running-13`). */
function nodeOf(root: HTMLElement, path: string): SVGGElement | null {
  const id = chart?.states.find((s) => s.path === path)?.id;
  if (!id) return null;
  const pattern = new RegExp(`^statechart-state-${id}-\\d+$`);
  return ([...root.querySelectorAll<SVGGElement>('g[id^="statechart-state-"]')].find((g) => pattern.test(g.id)) ?? null);
}

/** An event as the chart labels it: `xstate.done.actor.launch` → `done launchWindow`. */
export function triggerWords(eventType: string): string {
  return chart?.triggers[eventType] ?? eventType;
}

function ancestry(path: string): string[] {
  const parts = path.split('.');
  return parts.map((_, i) => parts.slice(0, i + 1).join('.'));
}

/** Marks the session's state (and where it came from) on the drawn chart, and says it in words. */
export function markState(root: HTMLElement, caption: HTMLElement, session: SessionView, last: TransitionView | undefined): void {
  if (!chart) return;
  for (const g of root.querySelectorAll('.current, .previous')) {
    g.classList.remove('current', 'previous');
    g.removeAttribute('data-mark');
  }
  root.querySelectorAll('.state-mark').forEach((m) => m.remove());
  const previous = last && last.to === session.statePath && last.from !== last.to ? last.from : null;
  if (previous) {
    for (const path of ancestry(previous)) nodeOf(root, path)?.classList.add('previous');
  }
  for (const path of ancestry(session.statePath)) {
    const g = nodeOf(root, path);
    if (!g) continue;
    g.classList.remove('previous');
    g.classList.add('current');
    g.setAttribute('data-mark', 'current');
  }
  const leaf = nodeOf(root, session.statePath);
  if (leaf) {
    // A word beside the state, so the mark does not depend on seeing the outline or its colour.
    const box = leaf.getBBox();
    const mark = document.createElementNS('http://www.w3.org/2000/svg', 'text');
    mark.setAttribute('class', 'state-mark');
    mark.setAttribute('x', String(box.x + box.width + 6));
    mark.setAttribute('y', String(box.y + box.height / 2 + 4));
    mark.textContent = '◀ now';
    leaf.appendChild(mark);
  }
  caption.textContent =
    `Statechart of ${session.key}: current state ${pathWords(session.statePath)}` +
    (previous ? `, entered from ${pathWords(previous)} (${triggerWords(last!.event)})` : '') +
    '. Thick outline and "now": the current state; dashed outline: the state before it.';
}
