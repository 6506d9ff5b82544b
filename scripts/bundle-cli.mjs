#!/usr/bin/env node
/**
 * Bundles the `warden` CLI into one file, dist/src/cli.cjs, and puts the launcher that runs it
 * through a V8 code cache at dist/src/warden.cjs (where `bin` points); dist/src/cli.js, which
 * replaces the module graph tsc emitted for it, starts the same launcher. A cold start then reads
 * one file, and compiles it only the first time.
 * Modules only some verbs need stay dynamic imports, evaluated when such a verb runs.
 */
import { build } from 'esbuild';
import { chmodSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

await build({
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/src/cli.cjs',
  bundle: true,
  minify: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The inspector, its server and WebSocket stay outside the bundle, loaded (and seen to be loaded)
  // only when `inspect` or --inspect-log runs. xstate/graph is bundled (a second copy of xstate
  // would not know the bundled machine) and, like every module behind a dynamic import, is only
  // evaluated when `graph` or `inspect` runs.
  external: ['@statelyai/inspect', '@statelyai/inspect/*', 'ws'],
  // The bundle is CommonJS: give the sources that read import.meta.url the bundle's own URL.
  define: { 'import.meta.url': '__wardenModuleUrl' },
  banner: { js: "const __wardenModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
// The launcher wraps the bundle in a function, where the hashbang esbuild kept is a syntax error.
const bundled = readFileSync('dist/src/cli.cjs', 'utf8');
if (bundled.startsWith('#!')) writeFileSync('dist/src/cli.cjs', bundled.slice(bundled.indexOf('\n') + 1));
copyFileSync('scripts/cli-launcher.cjs', 'dist/src/warden.cjs');
chmodSync('dist/src/warden.cjs', 0o755);
// dist/src/cli.js, the path scripts and tests have always run, starts the same launcher.
writeFileSync(
  'dist/src/cli.js',
  "#!/usr/bin/env node\nimport { createRequire } from 'node:module';\n\ncreateRequire(import.meta.url)('./warden.cjs');\n",
);
chmodSync('dist/src/cli.js', 0o755);
// The launcher replaces tsc's cli.js; its declarations and source map described the old file.
rmSync('dist/src/cli.d.ts', { force: true });
rmSync('dist/src/cli.js.map', { force: true });
