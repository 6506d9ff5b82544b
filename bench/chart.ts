/**
 * The scale-wall chart as a self-contained SVG: write time and file size against the number of
 * sessions, both axes logarithmic, drawn from the figures the bench just measured.
 */
export interface ScalePoint {
  sessions: number;
  writeMs: number;
  loadMs: number;
  fileMb: number;
}

const W = 640;
const H = 360;
const M = { left: 64, right: 64, top: 36, bottom: 48 };

function log(v: number): number {
  return Math.log10(Math.max(v, 1e-3));
}

function scale(domain: [number, number], range: [number, number]) {
  const [d0, d1] = [log(domain[0]), log(domain[1])];
  return (v: number) => range[0] + ((log(v) - d0) / (d1 - d0 || 1)) * (range[1] - range[0]);
}

function decades(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(log(min)); e <= Math.ceil(log(max)); e++) out.push(10 ** e);
  return out;
}

function label(v: number): string {
  if (v >= 1000) return `${v / 1000}k`;
  return String(v);
}

export function scaleChart(points: ScalePoint[]): string {
  const xs = points.map((p) => p.sessions);
  const ms = points.flatMap((p) => [p.writeMs, p.loadMs]);
  const mb = points.map((p) => p.fileMb);
  const xTicks = decades(Math.min(...xs), Math.max(...xs));
  const msTicks = decades(Math.min(...ms), Math.max(...ms));
  const mbTicks = decades(Math.min(...mb), Math.max(...mb));
  const x = scale([xTicks[0]!, xTicks.at(-1)!], [M.left, W - M.right]);
  const yMs = scale([msTicks[0]!, msTicks.at(-1)!], [H - M.bottom, M.top]);
  const yMb = scale([mbTicks[0]!, mbTicks.at(-1)!], [H - M.bottom, M.top]);
  const line = (y: (v: number) => number, pick: (p: ScalePoint) => number, colour: string, dash = '') =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${points
      .map((p) => `${x(p.sessions).toFixed(1)},${y(pick(p)).toFixed(1)}`)
      .join(' ')}"/>` +
    points.map((p) => `<circle cx="${x(p.sessions).toFixed(1)}" cy="${y(pick(p)).toFixed(1)}" r="3" fill="${colour}"/>`).join('');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">State file: one write and one load vs sessions (log-log)</text>`,
    ...xTicks.map(
      (t) =>
        `<line x1="${x(t)}" x2="${x(t)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/><text x="${x(t)}" y="${H - M.bottom + 14}" text-anchor="middle">${label(t)}</text>`,
    ),
    ...msTicks.map(
      (t) =>
        `<line x1="${M.left}" x2="${W - M.right}" y1="${yMs(t)}" y2="${yMs(t)}" stroke="#eee"/><text x="${M.left - 6}" y="${yMs(t) + 4}" text-anchor="end" fill="#c0392b">${label(t)}</text>`,
    ),
    ...mbTicks.map((t) => `<text x="${W - M.right + 6}" y="${yMb(t) + 4}" fill="#2471a3">${label(t)}</text>`),
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">sessions in the file</text>`,
    `<text transform="translate(16 ${H / 2}) rotate(-90)" text-anchor="middle" fill="#c0392b">milliseconds</text>`,
    `<text transform="translate(${W - 14} ${H / 2}) rotate(90)" text-anchor="middle" fill="#2471a3">file size (MB)</text>`,
    line(yMs, (p) => p.writeMs, '#c0392b'),
    line(yMs, (p) => p.loadMs, '#e67e22', '6 3'),
    line(yMb, (p) => p.fileMb, '#2471a3', '2 3'),
    `<g transform="translate(${M.left + 10} ${M.top + 8})">`,
    `<line x1="0" x2="24" y1="0" y2="0" stroke="#c0392b" stroke-width="2"/><text x="30" y="4">write one change (lock, merge, fsync, rename)</text>`,
    `<line x1="0" x2="24" y1="16" y2="16" stroke="#e67e22" stroke-width="2" stroke-dasharray="6 3"/><text x="30" y="20">load (parse + validate)</text>`,
    `<line x1="0" x2="24" y1="32" y2="32" stroke="#2471a3" stroke-width="2" stroke-dasharray="2 3"/><text x="30" y="36">file size</text>`,
    `</g>`,
    `</svg>`,
  ];
  return `${parts.join('\n')}\n`;
}
