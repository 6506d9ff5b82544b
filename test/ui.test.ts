/**
 * `warden ui` in a real headless chromium, against the built CLI and a real tmux server: the
 * page is refused without its token and loads with it; a session spawned from the CLI appears
 * live; killing its window turns it orphaned on the page; the statechart marks the current
 * state; actions from the page round-trip through the engine with the CLI's guards and
 * messages; forged requests (another Host, another origin, no token) are refused; 200 sessions
 * are shown a page at a time. A screenshot is kept in test/artifacts/.
 */
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './support/browser.js';
import { CLI_PATH, cleanEnv, session, warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

// What the code run in the page (page.evaluate) uses of the DOM; this file is compiled without it.
declare const document: {
  querySelectorAll(selector: string): Iterable<{ id: string; getAttribute(name: string): string | null }>;
  querySelector(selector: string): { innerText: string } | null;
};
declare class EventSource {
  static readonly CLOSED: number;
  constructor(url: string);
  readonly readyState: number;
  onerror: (() => void) | null;
  addEventListener(type: string, listener: () => void): void;
}

const server = useTmuxServer('ui');
const cli = warden(server);
const ARTIFACTS = join(import.meta.dirname, 'artifacts');

let ui: ResultPromise;
let uiOutput = '';
let base = '';
let token = '';
let browser: Browser;
let page: Page;

beforeAll(async () => {
  ui = execa(process.execPath, [CLI_PATH, '--socket', server.socket, '--state', cli.stateFile, '--json', 'ui', '--interval', '100'], {
    env: cleanEnv(),
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });
  ui.stdout!.on('data', (chunk) => (uiOutput += String(chunk)));
  ui.stderr!.on('data', (chunk) => (uiOutput += String(chunk)));
  const started = await waitFor(() => /^\{.*\}$/m.exec(uiOutput)?.[0], 'the URL warden ui prints');
  const url = new URL((JSON.parse(started) as { url: string }).url);
  token = url.searchParams.get('token')!;
  base = url.origin;
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  page.setDefaultTimeout(10_000);
  page.on('dialog', (dialog) => void dialog.accept());
});

afterAll(async () => {
  await browser?.close();
  ui?.kill('SIGTERM');
  await ui;
});

/** The row of `key` in the session table, as text ('' when absent from the page shown). */
async function rowText(key: string): Promise<string> {
  // Read in one step: a row can go between a look for it and a read of it.
  return page.evaluate((k) => document.querySelector(`#session-table tbody tr[data-key="${k}"]`)?.innerText ?? '', key);
}

async function pageShows(selector: string, text: string | RegExp, what: string): Promise<string> {
  return waitFor(async () => {
    const shown = await page.locator(selector).innerText();
    return (typeof text === 'string' ? shown.includes(text) : text.test(shown)) ? shown : undefined;
  }, `${what} (the page shows ${selector}: ${await page.locator(selector).innerText().catch(() => '?')}; warden ui said: ${uiOutput})`);
}

/** An HTTP request to the ui server with exactly these headers (a browser cannot forge Host; this can). */
async function raw(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const { port } = new URL(base);
  const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, setHost: false });
  req.end(options.body);
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode, body };
}

async function stateOf(key: string): Promise<string | null> {
  const result = await cli.run(['status', key, '--json']);
  return result.exitCode === 0 ? (JSON.parse(result.stdout) as { state: string }).state : null;
}

function chartNodeClasses(mermaidId: string): Promise<string | null> {
  return page.evaluate((id) => {
    const node = [...document.querySelectorAll('#chart-svg g[id^="statechart-state-"]')].find((g) => new RegExp(`^statechart-state-${id}-\\d+$`).test(g.id));
    return node ? node.getAttribute('class') : null;
  }, mermaidId);
}

describe('warden ui: the token', () => {
  it('refuses the page without the token or with a wrong one, and loads it with the token', async () => {
    const without = await page.goto(`${base}/`);
    expect(without!.status()).toBe(403);
    expect(await page.locator('body').innerText()).toContain('the token is missing or wrong');
    const wrong = await page.goto(`${base}/?token=${'x'.repeat(token.length)}`);
    expect(wrong!.status()).toBe(403);

    const loaded = await page.goto(`${base}/?token=${token}`);
    expect(loaded!.status()).toBe(200);
    await pageShows('#connection', 'live', 'the event stream connected');
    expect(await page.locator('#empty').isVisible()).toBe(true);
  });
});

describe('warden ui: sessions live', () => {
  it('a session spawned from the CLI appears, with its state, labels and log tail', async () => {
    session(await cli.run(['spawn', 'api-fix', '--label', 'ticket=T-12', '--json', '--', 'sh', '-c', 'echo ready; exec cat']));
    await waitFor(async () => /running/.test(await rowText('api-fix')), `api-fix running on the page (${uiOutput})`);
    expect(await rowText('api-fix')).toContain('ticket=T-12');
    // By keyboard: the key is a button.
    await page.locator('#session-table button.key', { hasText: 'api-fix' }).focus();
    await page.keyboard.press('Enter');
    await pageShows('#details-title', 'api-fix', 'the selected session');
    expect(await page.locator('#session-table tr[aria-current="true"]').getAttribute('data-key')).toBe('api-fix');
    await pageShows('#log', 'ready', 'the log tail');
  });

  it('the statechart marks the current state, in the drawing and in words', async () => {
    await pageShows('#chart-caption', 'current state active › running', 'the caption');
    expect(await chartNodeClasses('active_running')).toMatch(/\bcurrent\b/);
    expect(await chartNodeClasses('active')).toMatch(/\bcurrent\b/);
    expect(await chartNodeClasses('orphaned')).not.toMatch(/\bcurrent\b/);
    expect(await page.locator('#chart-svg g.current .state-mark').textContent()).toContain('now');
    // The activity is a substate of running: the page names it and marks it (read in one step,
    // since it changes as the program prints or goes quiet).
    const marked = await waitFor(
      () =>
        page.evaluate(() => {
          const caption = document.querySelector('#chart-caption')?.innerText ?? '';
          const activity = /current state active › running › (\w+)/.exec(caption)?.[1];
          const leaf = [...document.querySelectorAll('#chart-svg g.current')].map((g) => g.id).find((id) => /^statechart-state-active_running_\w+-\d+$/.test(id));
          return activity && leaf ? { activity, leaf } : null;
        }),
      'the activity substate marked',
    );
    expect(marked.leaf).toMatch(new RegExp(`^statechart-state-active_running_${marked.activity}-\\d+$`));
    expect(await rowText('api-fix')).toMatch(/\b(busy|idle|waiting)\b/);
  });

  it('send from the page types into the pane (an action round-trip)', async () => {
    await page.locator('#send-text').fill('hello from the page');
    await page.locator('#send-form button[type=submit]').click();
    await pageShows('#action-result', 'sent 19 bytes to api-fix and pressed Enter', 'the action result');
    await pageShows('#log', 'hello from the page', 'the echoed text in the log tail');
  });

  it('killing its window turns it orphaned on the page, with the transition listed and marked', async () => {
    const { windowId } = session(await cli.run(['status', 'api-fix', '--json']));
    await server.tmux.run(['kill-window', '-t', windowId!]);
    await waitFor(async () => /orphaned/.test(await rowText('api-fix')), 'api-fix orphaned on the page');
    await pageShows('#chart-caption', 'current state orphaned, entered from active › running', 'the caption');
    await pageShows('#transitions', /active › running( › \w+)? → orphaned/, 'the transition');
    expect(await chartNodeClasses('orphaned')).toMatch(/\bcurrent\b/);
    expect(await chartNodeClasses('active_running')).toMatch(/\bprevious\b/);
    // The log tail is the durable log, as `warden logs` prints it: it outlives the window.
    await pageShows('#log', 'hello from the page', 'the log tail of the orphaned session');
  });

  it('resume from the page brings it back; a refusal reads as the CLI says it', async () => {
    await page.locator('[data-action=resume]').click();
    await pageShows('#action-result', 'api-fix resumed: active.running', 'the action result');
    await waitFor(async () => /running/.test(await rowText('api-fix')), 'api-fix running again');
    expect(await stateOf('api-fix')).toBe('active');

    session(await cli.run(['spawn', 'docs', '--json', '--', 'sh', '-c', 'exit 3']));
    await waitFor(async () => /exited/.test(await rowText('docs')), 'docs exited on the page');
    const fromCli = await cli.run(['send', 'docs', 'hi']);
    expect(fromCli.exitCode).toBe(3);
    await page.locator('#session-table button.key', { hasText: 'docs' }).click();
    await page.locator('#send-text').fill('hi');
    await page.locator('#send-form button[type=submit]').click();
    const said = fromCli.stderr.replace(/^warden: /, '').trim();
    await pageShows('#action-result', `Refused: ${said}`, 'the refusal');
  });

  it('a session in a git worktree shows its branch', async () => {
    const repo = join(server.dir, 'repo');
    mkdirSync(repo);
    const git = (...args: string[]) => execa('git', args, { cwd: repo });
    await git('init', '-q', '-b', 'main');
    await git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '--allow-empty', '-m', 'start');
    session(await cli.run(['spawn', 'feature', '--worktree', 'feature-x', '--repo', repo, '--json', '--', 'sleep', '600']));
    await waitFor(async () => /feature-x/.test(await rowText('feature')), `feature's branch on the page (${await rowText('feature')})`);
    await page.locator('#session-table button.key', { hasText: 'feature' }).click();
    await pageShows('#facts', '(branch feature-x)', 'the worktree in the details');
    expect((await cli.run(['end', 'feature'])).exitCode).toBe(0);
    await waitFor(async () => (await rowText('feature')) === '', 'feature gone from the page');
  });

  it('keeps a screenshot of the page as a test artifact', async () => {
    await page.locator('#session-table button.key', { hasText: 'api-fix' }).click();
    await pageShows('#chart-caption', 'current state active › running', 'the caption');
    await pageShows('#log', 'ready', 'the log tail');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'ui-page.png'), fullPage: true });
  });

  it('restart fresh from the page ends the old session id and starts a new one', async () => {
    const before = session(await cli.run(['status', 'api-fix', '--json'])).sessionId!;
    await page.locator('[data-action=fresh]').click();
    await pageShows('#action-result', 'api-fix restarted with a new session id: active.running', 'the action result');
    const after = session(await cli.run(['status', 'api-fix', '--json'])).sessionId!;
    expect(after).not.toBe(before);
    await pageShows('#facts', after, 'the new session id');
    expect((await cli.run(['history', 'api-fix', '--json'])).stdout).toContain(before);
  });

  it('end from the page ends the session: gone from the page and from the CLI', async () => {
    await page.locator('#session-table button.key', { hasText: 'docs' }).click();
    await page.locator('[data-action=end]').click();
    await pageShows('#action-result', 'docs ended', 'the action result');
    await waitFor(async () => (await rowText('docs')) === '', 'docs gone from the page');
    expect(await stateOf('docs')).toBeNull();
    expect((await cli.run(['history', 'docs', '--json'])).stdout).toContain('"key": "docs"');
  });
});

describe('warden ui: the HTTP answers follow the CLI', () => {
  it('no such session is 404, a bad key 400, each with the message the CLI prints', async () => {
    const { host } = new URL(base);
    const headers = { host, 'x-warden-token': token, 'content-type': 'application/json' };
    const missing = await raw('/api/sessions/nope/end', { method: 'POST', headers, body: '{}' });
    const fromCli = await cli.run(['end', 'nope']);
    expect(fromCli.exitCode).toBe(4);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ error: { code: 'NOT_FOUND', message: fromCli.stderr.replace(/^warden: /, '').trim() } });
    const bad = await raw('/api/sessions/a%20b/end', { method: 'POST', headers, body: '{}' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.message).toContain('invalid key "a b"');
    const garbled = await raw('/api/sessions/%E0%A4%A/log', { headers });
    expect(garbled.status).toBe(400);
  });
});

describe('warden ui: forged requests', () => {
  let attacker: Server;
  afterAll(() => attacker?.close());

  it('refuses another Host (DNS rebinding), another Origin, no token, and a non-JSON action', async () => {
    const json = { 'content-type': 'application/json' };
    const end = `/api/sessions/api-fix/end`;
    const { host } = new URL(base);
    const rebound = await raw(end, { method: 'POST', headers: { host: `evil.example:${new URL(base).port}`, 'x-warden-token': token, ...json }, body: '{}' });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toContain('is not this server');
    const crossOrigin = await raw(end, { method: 'POST', headers: { host, origin: 'http://evil.example', 'x-warden-token': token, ...json }, body: '{}' });
    expect(crossOrigin.status).toBe(403);
    expect(crossOrigin.body).toContain('requests from http://evil.example are refused');
    const noToken = await raw(end, { method: 'POST', headers: { host, ...json }, body: '{}' });
    expect(noToken.status).toBe(403);
    const form = await raw(end, { method: 'POST', headers: { host, 'x-warden-token': token, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    expect(form.status).toBe(415);
    const events = await raw(`/api/events?token=${token}`, { headers: { host, 'sec-fetch-site': 'cross-site' } });
    expect(events.status).toBe(403);
    expect(await stateOf('api-fix')).toBe('active');
  });

  it('a page of another origin, holding the token, can neither act nor read the stream', async () => {
    attacker = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
    attacker.listen(0, '127.0.0.1');
    await once(attacker, 'listening');
    const evil = await browser.newPage();
    await evil.goto(`http://127.0.0.1:${(attacker.address() as { port: number }).port}/`);
    const outcome = await evil.evaluate(
      async ({ base, token }) => {
        const tries: string[] = [];
        const end = `${base}/api/sessions/api-fix/end?token=${token}`;
        try {
          await fetch(end, { method: 'POST', headers: { 'content-type': 'application/json', 'x-warden-token': token }, body: '{}' });
          tries.push('cors fetch answered');
        } catch {
          tries.push('cors fetch refused');
        }
        // What a form could do: a simple request the browser sends without asking first.
        const simple = await fetch(end, { method: 'POST', mode: 'no-cors', body: '{}' });
        tries.push(`no-cors fetch ${simple.type}`);
        const stream = await new Promise<string>((resolve) => {
          const source = new EventSource(`${base}/api/events?token=${token}`);
          source.addEventListener('reset', () => resolve('stream read'));
          source.onerror = () => resolve(source.readyState === EventSource.CLOSED ? 'stream refused' : 'stream retrying');
        });
        tries.push(stream);
        return tries;
      },
      { base, token },
    );
    await evil.close();
    expect(outcome).toEqual(['cors fetch refused', 'no-cors fetch opaque', 'stream refused']);
    expect(await stateOf('api-fix')).toBe('active');
  });
});

describe('warden ui: 200 sessions', () => {
  it('shows them a page at a time, live, with every one reachable by paging or filter', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    const engine = await server.engine({ stateFile: cli.stateFile });
    for (let i = 0; i < keys.length; i += 20) {
      await Promise.all(keys.slice(i, i + 20).map((key) => engine.spawn(key, { command: ['sleep', '600'] })));
    }
    await page.locator('#filter').fill('');
    await pageShows('#count', '201 sessions', 'every session counted');
    expect(await page.locator('#session-table tbody tr').count()).toBe(50);
    await pageShows('#page-info', '1–50 of 201 (page 1 of 5)', 'the first page');
    await page.locator('#next').click();
    await pageShows('#page-info', '51–100 of 201 (page 2 of 5)', 'the second page');
    await waitFor(async () => /running/.test(await rowText('bulk-050')), 'bulk-050 running on the page');
    await page.locator('#filter').fill('bulk-199');
    await pageShows('#count', '1 of 201 match', 'the filter');
    await waitFor(async () => /running/.test(await rowText('bulk-199')), 'bulk-199 running on the page');

    // A change to one of 201 reaches the page as it does with one.
    await engine.end('bulk-199');
    await pageShows('#count', '0 of 200 match', 'the ended session gone');
  }, 180_000);
});

describe('warden ui: the verb', () => {
  it('refuses a bad port (exit 2) and a port in use (exit 3), in one line', async () => {
    const bad = await cli.run(['ui', '--port', 'http']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe('warden: --port http is not a port: pass 1-65535, or 0 for any free one\n');
    const taken = await cli.run(['ui', '--port', new URL(base).port]);
    expect(taken.exitCode).toBe(3);
    expect(taken.stderr).toBe(`warden: port ${new URL(base).port} is in use: pass --port with a free port (0 picks one)\n`);
  });

  it('stops on SIGTERM with exit 0, and the page says it lost the server', async () => {
    ui.kill('SIGTERM');
    expect((await ui).exitCode).toBe(0);
    await pageShows('#connection', /reconnecting|disconnected/, 'the lost connection');
  });
});
