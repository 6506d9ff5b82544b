#!/usr/bin/env node
/**
 * Bundles the `warden ui` page, Mermaid included, into dist/src/observe/ui/assets (page.js and
 * page.css), which the package ships: the page loads nothing from the internet.
 */
import { build } from 'esbuild';

await build({
  entryPoints: { page: 'src/observe/ui/page/main.ts' },
  outdir: 'dist/src/observe/ui/assets',
  bundle: true,
  minify: true,
  platform: 'browser',
  format: 'iife',
  target: ['chrome111', 'firefox111', 'safari16'],
  // Mermaid's diagrams are dynamic imports; without splitting they are bundled into the one file.
  splitting: false,
  legalComments: 'none',
  logLevel: 'error',
});
