/**
 * What every `warden` verb shares: the global options, opening an engine, printing.
 * Verbs parse, call the engine and print; nothing else.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createEngine, validateKey, type Engine, type EngineOptions, type ReconcileResult } from '../engine.js';
import { InvalidInputError, WardenError } from '../model/errors.js';
import { parseLogSettingsText } from '../model/log-settings.js';
import { HookRunner, defaultConfigPath, loadHooksConfig, type HooksConfig } from '../hooks.js';
import { defaultStatePath } from '../store.js';
import { warn } from './output.js';

export interface GlobalOptions {
  state?: string;
  socket?: string;
  config?: string;
  json?: boolean;
  /** Append the XState inspection events of this run to this file (JSONL). */
  inspectLog?: string;
}

/** A verb registers itself on the program; `globals()` reads the global options at run time. */
export type RegisterVerb = (program: Command, globals: () => GlobalOptions) => void;

export function engineOptions(globals: GlobalOptions): EngineOptions {
  const stateFile = globals.state || process.env.WARDEN_STATE;
  return {
    // Absolute: hooks get it as WARDEN_STATE and run in another directory.
    stateFile: stateFile ? path.resolve(stateFile) : undefined,
    socket: globals.socket ?? process.env.WARDEN_TMUX_SOCKET ?? undefined,
    logs: process.env.WARDEN_LOGS ? parseLogSettingsText(process.env.WARDEN_LOGS) : undefined,
    worktreeDir: process.env.WARDEN_WORKTREE_DIR || undefined,
  };
}

/**
 * Opens an engine, reconciles once with tmux (unless `reconcile: false`), runs `body`, and closes
 * the engine whatever happens, so pending writes land before the process exits. The user's hooks
 * hear every transition from the first one, and are waited for before returning; a bad hooks
 * config fails before anything is opened.
 */
export async function withEngine<T>(
  globals: GlobalOptions,
  body: (engine: Engine, probe: ReconcileResult | null) => Promise<T>,
  options: Partial<EngineOptions> & { reconcile?: boolean; activity?: boolean } = {},
): Promise<T> {
  const { reconcile = true, activity = false, ...overrides } = options;
  const opened = { ...engineOptions(globals), ...overrides };
  const { hooks, profiles } = await cliConfig(globals, opened);
  const liveUrl = process.env.WARDEN_INSPECT || undefined;
  // Loaded only when asked for: the inspector is not part of every verb's cold start.
  const inspection = globals.inspectLog || liveUrl ? await import('../observe/inspect.js') : null;
  const log = inspection && globals.inspectLog ? await inspection.openInspectionLog(globals.inspectLog) : null;
  const live = inspection && liveUrl ? inspection.streamToInspector(liveUrl) : null;
  const inspect = inspection
    ? inspection.combineObservers([overrides.inspect, log?.observer, live?.observer])
    : overrides.inspect;
  try {
    const engine = await createEngine({ ...opened, profiles, inspect, onTransition: hooks?.listener, reconcileOnOpen: false });
    try {
      // Activity is decided (a screen captured, a change written) only for the verbs that show it.
      const probe = reconcile ? await engine.reconcile({ activity }).catch((err: unknown) => unrecorded(err, activity)) : null;
      if (probe) reportProbe(probe);
      return await body(engine, probe);
    } finally {
      await engine.close();
    }
  } finally {
    await hooks?.close();
    await live?.stop();
    await log?.close();
  }
}

/**
 * The config of `--config`, `$WARDEN_CONFIG` or `warden.config.json` beside the state file: its
 * hooks (failures go to stderr) and its activity profiles.
 */
async function cliConfig(
  globals: GlobalOptions,
  options: EngineOptions,
): Promise<{ hooks: HookRunner | null; profiles: HooksConfig['profiles'] | undefined }> {
  const named = globals.config ?? process.env.WARDEN_CONFIG;
  const stateFile = options.stateFile ?? defaultStatePath();
  const file = path.resolve(named ?? defaultConfigPath(stateFile));
  if (!named && !existsSync(file)) return { hooks: null, profiles: undefined };
  const config = await loadHooksConfig(file, { required: Boolean(named) });
  if (!config) return { hooks: null, profiles: undefined };
  const hooks = new HookRunner(config, {
    stateFile,
    socket: typeof options.socket === 'string' ? options.socket : undefined,
    cwd: path.dirname(file),
    onResult: (result) => {
      if (!result.ok) warn('HOOK_FAILED', result.message);
    },
  });
  return { hooks, profiles: config.profiles };
}

/**
 * A verb that only shows sessions (ls, status, wait) still shows them when what it saw cannot be
 * written (a read-only state directory): the state last recorded, with a warning.
 */
function unrecorded(err: unknown, showsOnly: boolean): ReconcileResult {
  if (!showsOnly || !(err instanceof WardenError && err.code === 'STATE_IO')) throw err;
  warn('STATE_IO', `${err.message}: showing the state last recorded`);
  return { probe: 'ok', transitions: [], exitsPending: 0 };
}

/**
 * A probe tmux did not answer changes nothing (invariant 3); a person is told the state shown
 * is the last one recorded. No tmux at all is an error: nothing useful can follow.
 */
export function reportProbe(result: ReconcileResult): void {
  if (result.probe !== 'unknown') return;
  if (result.error?.code === 'TMUX_NOT_FOUND') throw new WardenError('TMUX_NOT_FOUND', result.error.message);
  if (result.error?.code === 'TMUX_SOCKET_GONE') {
    warn('TMUX_SOCKET_GONE', `${result.error.message}; showing the state last recorded, not confirmed`);
    return;
  }
  warn('TMUX_UNKNOWN', `tmux did not answer (${result.error?.message ?? 'unknown error'}): showing the state last recorded, not confirmed`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A commander option parser for repeatable `K=V` pairs. */
export function collectPair(flag: string) {
  return (value: string, previous: Record<string, string> = {}): Record<string, string> => {
    const at = value.indexOf('=');
    if (at <= 0) throw new InvalidInputError(`${flag} ${JSON.stringify(value)} is not K=V: write it as ${flag} NAME=value`);
    return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
  };
}

/**
 * A commander argument parser for session keys. It throws our own `InvalidInputError` rather
 * than commander's, so the message is ours alone, and a bad key stops before anything opens.
 */
export const parseKey = (value: string): string => validateKey(value);

/** A commander option parser for a TCP port; 0 picks a free one. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidInputError(`--port ${value} is not a port: pass 1-65535, or 0 for any free one`);
  return port;
}

/** A commander option parser for a count of lines. */
export function parseLineCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidInputError(`-n ${JSON.stringify(value)} is not a number of lines: use e.g. -n 100`);
  return Number.parseInt(value, 10);
}

/** The `Example:` block every verb's `--help` ends with. */
export function examples(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}
