/**
 * The dependency rule of docs/architecture.md: imports point one way,
 * model ← machines ← tmux, store ← engine ← watch, hooks, config, logs, … ← cli, index.
 * Scans every source file's imports and fails naming each import that points the wrong way.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

/** Layer of a source file (relative to the repo root), lowest first; null: not ours to judge. */
function layerOf(file: string): { rank: number; name: string } | null {
  const f = file.replaceAll(path.sep, '/');
  if (f.startsWith('src/model/')) return { rank: 0, name: 'model' };
  // Activity profiles: pure data and matching over model, for the engine's reconcile and the config.
  if (f.startsWith('src/activity/')) return { rank: 0.5, name: 'activity' };
  if (f.startsWith('machines/')) return { rank: 1, name: 'machines' };
  if (f.startsWith('src/tmux/') || ['src/tmux.ts', 'src/control.ts', 'src/proc.ts'].includes(f)) return { rank: 2, name: 'tmux' };
  if (f.startsWith('src/store/') || f === 'src/store.ts') return { rank: 2, name: 'store' };
  if (f.startsWith('src/engine/') || f === 'src/engine.ts') return { rank: 3, name: 'engine' };
  if (f.startsWith('src/cli/') || f === 'src/cli.ts' || f === 'src/index.ts') return { rank: 5, name: 'cli' };
  if (f.startsWith('src/')) return { rank: 4, name: f.split('/')[1]!.replace(/\.ts$/, '') };
  return null;
}

/** The composition root builds the concrete adapters and the watcher: it may import any layer below the CLI. */
const COMPOSITION_ROOT = 'src/engine/create-engine.ts';

/**
 * Facts about processes on this host (alive, start time, boot id) are not tmux's: the store's lock
 * names its holder by the same process identity the engine's owners use, through the one check.
 */
const HOST_FACTS = path.join('src', 'tmux', 'host.ts');

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) return sources(rel);
    return rel.endsWith('.ts') && !rel.endsWith('.d.ts') ? [rel] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)];
  return specs
    .map((m) => m[1]!)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.relative(root, path.resolve(path.dirname(path.join(root, file)), spec)).replace(/\.js$/, '.ts'));
}

/** Every import that breaks the rule, as `from → to (why)`. */
function violations(): string[] {
  const found: string[] = [];
  for (const file of [...sources('machines'), ...sources('src')]) {
    const from = layerOf(file);
    if (!from) continue;
    for (const target of importsOf(file)) {
      const to = layerOf(target);
      if (!to) continue;
      const sameFamily = from.name === to.name;
      if (file === COMPOSITION_ROOT && to.rank < 5) continue;
      if (from.name === 'store' && target === HOST_FACTS) continue;
      if (to.rank > from.rank || (to.rank === from.rank && !sameFamily)) {
        found.push(`${file} → ${target} (${from.name} may not import ${to.name})`);
      }
    }
  }
  return found;
}

describe('the dependency rule', () => {
  it('no import points up or sideways between layers', () => {
    expect(violations()).toEqual([]);
  });

  it('catches a violation: the scan sees imports of every shape', () => {
    expect(importsOf('src/engine/core.ts')).toContain(path.join('machines', 'session.ts'));
    expect(layerOf('src/tmux/commands.ts')?.name).toBe('tmux');
    expect(layerOf('src/store/lock.ts')?.name).toBe('store');
    // tmux and store share a rank but are siblings: neither may import the other.
    const tmux = layerOf('src/tmux/commands.ts')!;
    const store = layerOf('src/store/lock.ts')!;
    expect(tmux.rank === store.rank && tmux.name !== store.name).toBe(true);
  });

  it('nothing outside machines/ compares dotted state strings', () => {
    const dotted = /(?:[!=]==?|case)\s*['"](?:active\.(?:running|exited))['"]|['"]active\.(?:running|exited)['"]\s*[!=]==?/;
    const offenders = sources('src').filter((file) => dotted.test(readFileSync(path.join(root, file), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
