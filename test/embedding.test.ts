/**
 * docs/embedding.md is runnable: each TypeScript block is a file in examples/, the test runs the
 * built file against real tmux and checks what it prints. Plus the library contract the page
 * promises: the public API comes from the package root, and close() ends a watch.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import { useTmuxServer } from './support/tmux-server.js';

const server = useTmuxServer('embedding');
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const DOC = readFileSync(join(ROOT, 'docs', 'embedding.md'), 'utf8');

async function runExample(name: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, [join(ROOT, 'dist', 'examples', `${name}.js`)], {
    env: { ...process.env, WARDEN_STATE: server.stateFile(), WARDEN_TMUX_SOCKET: server.socket },
  });
  return stdout.trimEnd().split('\n');
}

describe('docs/embedding.md shows the examples as they are', () => {
  it('has every TypeScript block marked with its file in examples/, and equal to it', () => {
    const blocks = [...DOC.matchAll(/(?:<!-- (examples\/[\w-]+\.ts) -->\n)?```ts\n([\s\S]*?)```/g)];
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    for (const [, file, code] of blocks) {
      expect(file, `a \`\`\`ts block in docs/embedding.md without its <!-- examples/… --> marker`).toBeDefined();
      expect(code, `docs/embedding.md is out of step with ${file}: copy the file into its block`).toBe(
        readFileSync(join(ROOT, file!), 'utf8').trimEnd() + '\n',
      );
    }
  });
});

describe('the examples of docs/embedding.md run', () => {
  it('quickstart: spawn, conflict, send, capture, reconcile, end', async () => {
    // Activity changes (a quiet pane going idle on a slow machine) are not what this example shows.
    const lines = (await runExample('quickstart')).filter((line) => !/\((QUIET|OUTPUT)\)$/.test(line));
    expect(lines).toEqual([
      'quickstart: normal → spawning (SPAWN)',
      'quickstart: spawning → active.running.busy (xstate.done.actor.launch)',
      expect.stringMatching(/^quickstart is active in window @\d+, session [0-9a-f-]{36}$/),
      'refused (CONFLICT, exit code 3): quickstart is active: use --mode ensure to keep it running, --mode resume to relaunch it or --mode fresh to restart it',
      'screen: hello from quickstart | ping | got ping',
      'probe ok: quickstart=active',
      expect.stringMatching(/^quickstart: active\.running\.(busy|idle) → ending \(END\)$/),
      'quickstart: ending → normal (xstate.done.actor.cleanup)',
      'ended: normal, history: ended',
    ]);
  });

  it('hooks: the watch sees the window go, the orphaned hook runs and its failure is reported', async () => {
    const lines = await runExample('hooks');
    const from = lines.find((line) => line.startsWith('agent: active.running.') && line.endsWith('→ orphaned (WINDOW_GONE)'))?.split(' ')[1];
    expect(from).toMatch(/^active\.running\.(busy|idle)$/);
    expect(lines).toContain(`hook: hook orphaned for agent (${from} → orphaned) exited 1: agent lost its window (${from} → orphaned)`);
    expect(lines.at(-1)).toBe('agent: ending → normal (xstate.done.actor.cleanup)');
  });

  it('other-runtime: the statechart runs on services provided without tmux', async () => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'dist', 'examples', 'other-runtime.js')]);
    expect(stdout.trimEnd().split('\n')).toEqual([
      'architect: normal',
      'architect: spawning',
      'architect: active.running.busy',
      'windows: @mem0',
      'architect: orphaned',
      'architect: ending',
      'architect: normal',
      'windows left: 0',
    ]);
  });
});

describe('the public API is the package root', () => {
  it('exports the engine, the errors with their codes, the machine, the schemas and the hooks', () => {
    for (const name of [
      'createEngine',
      'Engine',
      'WardenError',
      'InvalidInputError',
      'ConflictError',
      'NotFoundError',
      'StateFileError',
      'TmuxError',
      'sessionMachine',
      'StateDocumentSchema',
      'SessionInfoSchema',
      'HookRunner',
      'loadHooksConfig',
    ]) {
      expect(api, name).toHaveProperty(name);
    }
    expect(new api.ConflictError('x')).toMatchObject({ code: 'CONFLICT', exitCode: 3 });
    expect(new api.InvalidInputError('x').exitCode).toBe(2);
    expect(new api.NotFoundError('x').exitCode).toBe(4);
    expect(api.ERROR_CODES).toMatchObject({ INVALID_INPUT: 2, CONFLICT: 3, NOT_FOUND: 4, TMUX_FAILED: 1 });
  });

  it('close() ends a watch that was given no signal, at once', async () => {
    const engine = await server.engine();
    const watching = engine.watch({ intervalMs: 600_000 });
    await engine.reconcile();
    await engine.close();
    // With a ten-minute interval, only close() can end it within the test's timeout.
    await expect(watching).resolves.toBeUndefined();
  });
});

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

/**
 * Docs other issues deliver (CLI, statechart, reliability, performance). Until their branches are
 * merged, a link to one is reported as a todo below rather than a failure.
 */
const DELIVERED_ELSEWHERE = ['docs/cli.md', 'docs/state-machine.md', 'docs/reliability.md', 'docs/performance.md'];

describe('the README and docs/ link only to what exists', () => {
  for (const doc of DELIVERED_ELSEWHERE) {
    if (!existsSync(join(ROOT, doc))) it.todo(`${doc}: linked from the docs, delivered by another issue, not merged yet`);
  }

  const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

  it.each(pages)('%s', (page) => {
    const text = readFileSync(join(ROOT, page), 'utf8');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [file, anchor] = target!.split('#');
      const path = file ? join(ROOT, dirname(page), file) : join(ROOT, page);
      if (DELIVERED_ELSEWHERE.includes(relative(ROOT, path)) && !existsSync(path)) continue;
      if (!existsSync(path)) {
        broken.push(target!);
        continue;
      }
      if (anchor && path.endsWith('.md')) {
        const headings = [...readFileSync(path, 'utf8').matchAll(/^#+ (.+)$/gm)].map(([, h]) => slug(h!));
        if (!headings.includes(anchor)) broken.push(target!);
      }
    }
    expect(broken).toEqual([]);
  });
});
