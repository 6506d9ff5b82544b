/**
 * The page and its bundled assets (the page script, the Mermaid chunks it loads, its stylesheet),
 * built by `npm run build` into dist/src/observe/ui/assets and shipped in the package: no CDN,
 * nothing fetched from the internet. Found from the package root, so the same code serves them
 * from the library build, from the one-file CLI bundle and from the sources.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WardenError } from '../../model/errors.js';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The content type of an asset's name, or undefined for a name that is not one of ours. */
export function assetType(name: string): string | undefined {
  return /^[\w-]+\.(js|css)$/.test(name) ? TYPES[name.slice(name.lastIndexOf('.'))] : undefined;
}

export function assetsDir(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'src', 'observe', 'ui', 'assets');
    if (dirname(dir) === dir) throw new WardenError('UI_FAILED', `no package.json above ${from}: reinstall tmux-warden`);
  }
}

/** Reads every asset once (the page and the chunks it loads); nothing else is served from the folder. */
export async function loadAssets(dir = assetsDir()): Promise<Map<string, Buffer>> {
  const names = await readdir(dir).catch(() => [] as string[]);
  if (!names.includes('page.js') || !names.includes('page.css')) {
    throw new WardenError('UI_FAILED', `the page assets are missing from ${dir}: run 'npm run build' (or reinstall tmux-warden)`);
  }
  const loaded = new Map<string, Buffer>();
  for (const name of names) if (assetType(name)) loaded.set(name, await readFile(join(dir, name)));
  return loaded;
}

/** The page itself; the token stays in the URL, where the page script reads it. */
export function pageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>warden ui</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/page.css">
<script type="module" src="/assets/page.js"></script>
</head>
<body>
<a class="skip" href="#details">Skip to the selected session</a>
<header>
  <h1>warden</h1>
  <p id="connection" role="status" aria-live="polite">connecting…</p>
</header>
<main>
  <section id="sessions" aria-labelledby="sessions-title">
    <h2 id="sessions-title">Sessions</h2>
    <p class="tools">
      <label for="filter">Filter</label>
      <input id="filter" type="search" placeholder="key, state, label…" autocomplete="off">
      <span id="count" aria-live="polite"></span>
    </p>
    <table id="session-table">
      <caption class="visually-hidden">Every session, updated live. Choose a key to see its statechart, transitions, log and actions.</caption>
      <thead><tr>
        <th scope="col">Key</th><th scope="col">State</th><th scope="col">Activity</th><th scope="col">Exit</th>
        <th scope="col">Labels</th><th scope="col">Branch</th><th scope="col">Age</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <p id="empty" hidden>No sessions yet: start one with <code>warden spawn KEY -- COMMAND</code>.</p>
    <nav class="pager" aria-label="Session pages">
      <button type="button" id="prev">Previous page</button>
      <span id="page-info"></span>
      <button type="button" id="next">Next page</button>
    </nav>
  </section>
  <section id="details" aria-labelledby="details-title" tabindex="-1">
    <h2 id="details-title">No session selected</h2>
    <div id="details-body" hidden>
      <dl id="facts"></dl>
      <div class="actions" role="group" aria-label="Actions">
        <form id="send-form">
          <label for="send-text">Send text</label>
          <input id="send-text" autocomplete="off">
          <label><input type="checkbox" id="send-enter" checked> then Enter</label>
          <button type="submit">Send</button>
        </form>
        <button type="button" data-action="resume">Resume</button>
        <button type="button" data-action="fresh">Restart fresh</button>
        <button type="button" data-action="end">End</button>
      </div>
      <p id="action-result" role="status" aria-live="polite"></p>
      <h3>Statechart</h3>
      <figure id="chart">
        <figcaption id="chart-caption"></figcaption>
        <div id="chart-svg" role="img" aria-labelledby="chart-caption"></div>
      </figure>
      <h3>Recent transitions</h3>
      <ol id="transitions"></ol>
      <h3>Log tail</h3>
      <pre id="log" tabindex="0" aria-label="Log tail"></pre>
    </div>
  </section>
</main>
</body>
</html>
`;
}
