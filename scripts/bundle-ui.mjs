#!/usr/bin/env node
/**
 * Bundles the `warden ui` page, Mermaid included, into dist/src/observe/ui/assets, which the
 * package ships: the page loads nothing from the internet. page.js (the list, the stream, the
 * actions) is small and starts at once; Mermaid and each diagram it draws are chunks loaded after.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

// Chunk names carry a hash: a rebuild must not leave the last build's chunks behind.
rmSync('dist/src/observe/ui/assets', { recursive: true, force: true });

await build({
  entryPoints: { page: 'src/observe/ui/page/main.ts' },
  outdir: 'dist/src/observe/ui/assets',
  bundle: true,
  minify: true,
  platform: 'browser',
  format: 'esm',
  target: ['chrome111', 'firefox111', 'safari16'],
  splitting: true,
  chunkNames: 'chunk-[hash]',
  legalComments: 'none',
  logLevel: 'error',
});
