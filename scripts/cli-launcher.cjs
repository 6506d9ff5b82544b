#!/usr/bin/env node
// The `warden` command (what `bin` points at): runs the bundled CLI (cli.cjs, next to this file)
// through a V8 code cache kept in the user's cache directory, so a cold start does not compile the
// bundle again. Any problem with the cache (unwritable, stale, rejected by this V8) just means
// compiling as usual. CommonJS, so starting it does not start Node's ES module loader.
'use strict';
const { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { homedir } = require('node:os');
const { dirname, isAbsolute, join } = require('node:path');
const { Script } = require('node:vm');

const bundle = join(__dirname, 'cli.cjs');
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
const bundled = { exports: {} };
script.runInThisContext()(bundled.exports, createRequire(bundle), bundled, bundle, dirname(bundle));
