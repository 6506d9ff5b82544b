/**
 * Draws the statechart with the bundled Mermaid, from the text the server derives from the
 * machine (the same Mermaid as `warden graph` and the docs). Loaded after the list is up: Mermaid
 * is most of the page's code.
 */
import mermaid from 'mermaid';
import type { ChartView } from '../protocol.js';
import { chartDrawn } from './chart.js';

export async function drawChart(view: ChartView, into: HTMLElement): Promise<void> {
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral', fontFamily: 'system-ui, sans-serif' });
  const { svg } = await mermaid.render('statechart', view.mermaid);
  into.innerHTML = svg;
  chartDrawn(view);
}
