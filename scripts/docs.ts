/**
 * `npm run docs`: regenerates the parts of docs/ that are derived from the code, between
 * `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers; the prose around them is kept.
 * `test/graph.test.ts` fails when the committed file differs from what this would write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineGraph, toMarkdownTable, toMermaid } from '../src/observe/graph.js';

/** docs/state-machine.md, from this file in scripts/ or compiled in dist/scripts/. */
export const STATE_MACHINE_DOC = fileURLToPath(
  new URL(`${import.meta.url.includes('/dist/') ? '../..' : '..'}/docs/state-machine.md`, import.meta.url),
);

/** What each generated region of docs/state-machine.md holds. */
export function stateMachineRegions(): Record<string, string> {
  const graph = machineGraph();
  return {
    diagram: `\`\`\`mermaid\n${toMermaid(graph)}\`\`\`\n`,
    transitions: toMarkdownTable(graph),
  };
}

/** `text` with every generated region replaced by its current content. */
export function regenerate(text: string, regions: Record<string, string> = stateMachineRegions()): string {
  let out = text;
  for (const [name, body] of Object.entries(regions)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start < 0 || end < start) throw new Error(`docs/state-machine.md lacks the ${open} … ${close} markers`);
    out = `${out.slice(0, start + open.length)}\n${body}${out.slice(end)}`;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const before = readFileSync(STATE_MACHINE_DOC, 'utf8');
  const after = regenerate(before);
  if (after !== before) writeFileSync(STATE_MACHINE_DOC, after);
  process.stdout.write(`${after === before ? 'up to date' : 'regenerated'}: ${STATE_MACHINE_DOC}\n`);
}
