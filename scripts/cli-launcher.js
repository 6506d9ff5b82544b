#!/usr/bin/env node
// The `warden` command: runs the bundled CLI (cli.cjs, next to this file) through a V8 code cache
// kept in the user's cache directory, so a cold start does not compile the bundle again. Any
// problem with the cache (unwritable, stale, rejected by this V8) just means compiling as usual.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const bundle = fileURLToPath(new URL('./cli.cjs', import.meta.url));
const source = readFileSync(bundle, 'utf8');
let cacheFile = null;
let cachedData;
try {
  const xdg = process.env.XDG_CACHE_HOME;
  const dir = join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'tmux-warden');
  const { size, mtimeMs } = statSync(bundle);
  cacheFile = join(dir, `cli-${process.version}-${size}-${Math.trunc(mtimeMs)}.v8cache`);
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: bundle,
  cachedData,
});
if (cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
  // After the run, so the functions this verb compiled are in the cache too.
  process.once('beforeExit', () => {
    try {
      mkdirSync(dirname(cacheFile), { recursive: true, mode: 0o700 });
      const temp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
      renameSync(temp, cacheFile);
    } catch {
      // No cache this time.
    }
  });
}
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
