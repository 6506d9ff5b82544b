/**
 * What every `warden` verb shares: the global options, opening an engine, printing.
 * Verbs parse, call the engine and print; nothing else.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { createEngine, validateKey, type Engine, type EngineOptions, type ReconcileResult } from '../engine.js';
import { describeLookalike } from '../engine/lookalikes.js';
import { InvalidInputError, WardenError } from '../model/errors.js';
import { HookRunner } from '../hooks.js';
import { locateConfig, readConfigFile, userConfigPath, type Config } from '../config/index.js';
import { parseLogSettingsText } from '../model/log-settings.js';
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

/** How long a verb waits for its hooks before leaving them in the outbox for the next process. */
export const CLI_HOOK_WAIT_MS = 1500;

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
  const config = await cliConfig(globals, opened);
  const hooks = config ? cliHooks(config.config, config.file, opened) : null;
  const group = opened.group ?? config?.config.defaults?.group;
  if (group) opened.group = group;
  const profiles = config?.config.profiles;
  const liveUrl = process.env.WARDEN_INSPECT || undefined;
  // Loaded only when asked for: the inspector is not part of every verb's cold start.
  const inspection = globals.inspectLog || liveUrl ? await import('../observe/inspect.js') : null;
  const log = inspection && globals.inspectLog ? await inspection.openInspectionLog(globals.inspectLog) : null;
  const live = inspection && liveUrl ? inspection.streamToInspector(liveUrl) : null;
  const inspect = inspection
    ? inspection.combineObservers([overrides.inspect, log?.observer, live?.observer])
    : overrides.inspect;
  let engine: Engine | null = null;
  // Ctrl-C while transitions are landing: let them land (their hooks in the outbox with them) and
  // release the hooks not run yet before exiting, so none is lost (invariant 14). Verbs with their
  // own handler (watch) stop themselves.
  const onInterrupt = () => {
    if (process.listenerCount('SIGINT') > 1) return;
    void (async () => {
      await engine?.close().catch(() => undefined);
      await hooks?.close({ waitMs: 0 });
      process.exit(130);
    })();
  };
  if (hooks) process.on('SIGINT', onInterrupt);
  try {
    engine = await createEngine({ ...opened, profiles, inspect, outbox: hooks?.outbox, reconcileOnOpen: false });
    try {
      // Activity is decided (a screen captured, a change written) only for the verbs that show it.
      const probe = reconcile ? await engine.reconcile({ activity }).catch((err: unknown) => unrecorded(err, activity)) : null;
      if (probe) reportProbe(probe);
      return await body(engine, probe);
    } finally {
      await engine.close();
    }
  } finally {
    // Hooks are not the verb's work: a short wait, then the rest is left to the next process.
    await hooks?.close({ waitMs: CLI_HOOK_WAIT_MS });
    process.off('SIGINT', onInterrupt);
    await live?.stop();
    await log?.close();
  }
}

/**
 * The user's config file: `--config`, `$WARDEN_CONFIG`, the XDG config file, or the deprecated
 * `warden.config.json` beside the state file (read, with a note saying where it belongs now).
 */
export function cliConfig(globals: GlobalOptions, options: EngineOptions = engineOptions(globals)): Promise<{ config: Config; file: string } | null> {
  // Read once per process: a verb that needs the defaults before opening the engine reads it first.
  loadedConfig ??= loadConfig(globals, options);
  return loadedConfig;
}

let loadedConfig: Promise<{ config: Config; file: string } | null> | undefined;

async function loadConfig(globals: GlobalOptions, options: EngineOptions): Promise<{ config: Config; file: string } | null> {
  const stateFile = options.stateFile ?? defaultStatePath();
  const location = locateConfig({ named: globals.config ?? process.env.WARDEN_CONFIG, stateFile });
  if (!location) return null;
  const config = await readConfigFile(location.file, { required: location.required });
  if (!config) return null;
  if (location.deprecated) {
    warn('CONFIG_DEPRECATED', `reading ${location.file}, which is deprecated: move it to ${userConfigPath()} (YAML or JSON)`);
  }
  return { config, file: location.file };
}

/** The hooks of the config file; their failures go to stderr. */
function cliHooks(config: Config, file: string, options: EngineOptions): HookRunner | null {
  if (Object.keys(config.hooks).length === 0) return null;
  const stateFile = options.stateFile ?? defaultStatePath();
  return new HookRunner(config, {
    stateFile,
    socket: typeof options.socket === 'string' ? options.socket : undefined,
    cwd: path.dirname(file),
    onResult: (result) => {
      if (!result.ok) warn('HOOK_FAILED', result.message);
    },
  });
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

/** Untagged windows named like an orphaned session (tmux-resurrect's): pointed out on stderr, never touched. */
export function reportLookalikes(result: ReconcileResult | null): void {
  for (const window of result?.lookalikes ?? []) warn('UNTAGGED_WINDOW', describeLookalike(window));
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

/** A commander option parser for a whole number given to `flag`. */
export function parseCount(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidInputError(`${flag} ${JSON.stringify(value)} is not a whole number: use e.g. ${flag} 3`);
    return Number.parseInt(value, 10);
  };
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
