/**
 * The packed tarball is what a user gets: it holds only built files, docs, schemas and the
 * licence, installs into an empty project without an install-script warning, runs `npx warden
 * --version`, and `import { createEngine } from 'tmux-warden'` type-checks (with real types, not
 * `any`) and runs against tmux — from ES modules, from CommonJS (`require`), and from TypeScript
 * compiled with `module: nodenext` to either.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('package');
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

/** A consumer's code: every `@ts-expect-error` fails the type check if the types were `any`. */
const CONSUMER = `
import { createEngine, WardenError, sessionMachine, StateDocumentSchema, type Engine, type SessionInfo } from 'tmux-warden';

const [stateFile, socket] = process.argv.slice(2) as [string, string];
const engine: Engine = await createEngine({ stateFile, socket });
// @ts-expect-error a command is an argv array
await engine.spawn('typed', { command: 'sleep 60' }).catch(() => undefined);
const session: SessionInfo = await engine.spawn('packed', { command: ['sleep', '60'] });
// @ts-expect-error state is a union of state names
const wrong: number = session.state;
const refused = await engine.spawn('packed', { command: ['true'] }).catch((e: unknown) => e);
const ended = await engine.end('packed');
await engine.close();
const document = StateDocumentSchema.parse(JSON.parse((await import('node:fs')).readFileSync(stateFile, 'utf8')));
console.log(JSON.stringify({
  state: session.state,
  ended: ended.state,
  refused: refused instanceof WardenError ? refused.code : String(refused),
  machine: sessionMachine.id,
  history: document.history.length,
  wrong: typeof wrong,
}));
`;

/** CommonJS, as most existing Node code is: `require('tmux-warden')` and a shipped schema. */
const CJS_CONSUMER = `
const { createEngine, WardenError } = require('tmux-warden');
const schema = require('tmux-warden/schemas/session.schema.json');

(async () => {
  const [stateFile, socket] = process.argv.slice(2);
  const engine = await createEngine({ stateFile, socket });
  const session = await engine.spawn('required', { command: ['sleep', '60'] });
  const refused = await engine.spawn('required', { command: ['true'] }).catch((e) => e);
  const ended = await engine.end('required');
  await engine.close();
  console.log(JSON.stringify({
    state: session.state,
    ended: ended.state,
    refused: refused instanceof WardenError ? refused.code : String(refused),
    schema: schema.title,
  }));
})();
`;

/** TypeScript with module nodenext in a CommonJS file: it compiles to require() and must run. */
const CTS_CONSUMER = `
import { createEngine, type SessionInfo } from 'tmux-warden';

async function main(): Promise<void> {
  const [stateFile, socket] = process.argv.slice(2) as [string, string];
  const engine = await createEngine({ stateFile, socket });
  const session: SessionInfo = await engine.spawn('nodenext', { command: ['sleep', '60'] });
  // @ts-expect-error state is a union of state names
  const wrong: number = session.state;
  await engine.end('nodenext');
  await engine.close();
  console.log(JSON.stringify({ state: session.state, wrong: typeof wrong }));
}
void main();
`;

describe('npm pack → npm install in an empty project', () => {
  it('ships only built files, docs, schemas and the licence; runs npx warden --version; imports with types, from ESM, CommonJS and nodenext', async () => {
    const project = join(server.dir, 'consumer');
    mkdirSync(project);
    // Built by `npm test` already: pack what is there, without running the build again.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', server.dir], { cwd: ROOT });
    const [manifest] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    const files = manifest.files.map((f) => f.path);
    const unexpected = files.filter(
      (f) =>
        !/^(dist\/(src|machines)\/.+\.(c?js|d\.ts)|dist\/src\/observe\/ui\/assets\/page\.css|docs\/.+|schemas\/[a-z-]+\.schema\.json|README\.md|CHANGELOG\.md|LICENSE|package\.json)$/.test(f),
    );
    expect(unexpected).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining([
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'docs/embedding.md',
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
        'schemas/session.schema.json',
        'schemas/watch-event.schema.json',
        'schemas/state-file.schema.json',
        'schemas/config.schema.json',
        // `warden ui`'s page, Mermaid bundled with it: it loads nothing from the internet.
        'dist/src/observe/ui/assets/page.js',
        'dist/src/observe/ui/assets/page.css',
      ]),
    );

    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const installed = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(server.dir, manifest.filename)], {
      cwd: project,
    });
    // Nothing to build or approve on install: the tarball has no install or prepare script.
    expect(`${installed.stdout}${installed.stderr}`).not.toMatch(/install-scripts|prepare/);

    const cli = await run('npx', ['--no', '--', 'warden', '--version'], { cwd: project });
    expect(cli.stdout.trim()).toBe(version);

    // The installed `warden ui` finds its bundled page and serves it.
    const ui = spawn(join(project, 'node_modules', '.bin', 'warden'), ['--json', '--state', join(project, 'ui.json'), '--socket', server.socket, 'ui'], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let printed = '';
    ui.stdout.on('data', (chunk) => (printed += String(chunk)));
    const started = await waitFor(() => (printed.includes('\n') ? printed.split('\n')[0] : undefined), 'the URL warden ui prints');
    const { url } = JSON.parse(started) as { url: string };
    expect((await fetch(url)).status).toBe(200);
    const script = await fetch(new URL('/assets/page.js', url));
    expect(script.status).toBe(200);
    // The page loads Mermaid as chunks of the package, never from elsewhere.
    const chunk = /["']\.\/(chunk-[\w-]+\.js)["']/.exec(await script.text())?.[1];
    expect(chunk).toBeDefined();
    expect((await fetch(new URL(`/assets/${chunk}`, url))).status).toBe(200);
    expect(files.filter((f) => f.startsWith('dist/src/observe/ui/assets/chunk-')).length).toBeGreaterThan(10);
    ui.kill('SIGTERM');
    await once(ui, 'exit');

    writeFileSync(join(project, 'consumer.ts'), CONSUMER);
    writeFileSync(join(project, 'consumer-cjs.cts'), CTS_CONSUMER);
    writeFileSync(join(project, 'consumer.cjs'), CJS_CONSUMER);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['consumer.ts', 'consumer-cjs.cts'],
      }),
    );
    const typecheck = await run(process.execPath, [TSC, '-p', project], { cwd: project }).catch(
      (e: { stdout: string }) => e,
    );
    expect(typecheck.stdout).toBe('');

    const consumer = await run(process.execPath, ['consumer.js', join(project, 'state.json'), server.socket], { cwd: project });
    expect(JSON.parse(consumer.stdout)).toEqual({
      state: 'active',
      ended: 'normal',
      refused: 'CONFLICT',
      machine: 'warden-session',
      history: 1,
      wrong: 'string',
    });

    const required = await run(process.execPath, ['consumer.cjs', join(project, 'state-cjs.json'), server.socket], { cwd: project });
    expect(required.stderr).toBe('');
    expect(JSON.parse(required.stdout)).toEqual({ state: 'active', ended: 'normal', refused: 'CONFLICT', schema: 'tmux-warden session object' });

    // The .cts became CommonJS: the import is a require() at run time.
    expect(readFileSync(join(project, 'consumer-cjs.cjs'), 'utf8')).toMatch(/require\("tmux-warden"\)/);
    const nodenext = await run(process.execPath, ['consumer-cjs.cjs', join(project, 'state-cts.json'), server.socket], { cwd: project });
    expect(nodenext.stderr).toBe('');
    expect(JSON.parse(nodenext.stdout)).toEqual({ state: 'active', wrong: 'string' });
  }, 120_000);
});

describe('npm install in a clone', () => {
  it('builds, leaving a runnable warden (the dependencies script does it; the tarball has no prepare)', async () => {
    const clone = join(server.dir, 'clone');
    const listed = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT });
    for (const file of listed.stdout.split('\0').filter(Boolean)) {
      // Deleted files, and a node_modules link a working copy may have, are not the clone's.
      if (!existsSync(join(ROOT, file)) || !lstatSync(join(ROOT, file)).isFile()) continue;
      mkdirSync(dirname(join(clone, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(clone, file));
    }
    expect(existsSync(join(clone, 'dist'))).toBe(false);
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone });
    const { stdout } = await run(process.execPath, [join(clone, 'dist', 'src', 'warden.cjs'), '--version'], { cwd: clone });
    expect(stdout.trim()).toBe(version);
    // The clone's node_modules (every dev dependency) takes longer to remove than a hook may run.
    await rm(clone, { recursive: true, force: true });
  }, 300_000);
});
