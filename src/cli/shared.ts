/**
 * What every `warden` verb shares: the global options, opening an engine, printing.
 * Verbs parse, call the engine and print; nothing else.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createEngine, type Engine, type EngineOptions } from '../engine.js';
import { InvalidInputError } from '../errors.js';
import { HookRunner, defaultConfigPath, loadHooksConfig } from '../hooks.js';
import { defaultStatePath } from '../store.js';
import type { SessionInfo } from '../schema.js';

export interface GlobalOptions {
  state?: string;
  socket?: string;
  config?: string;
  json?: boolean;
}

/** A verb registers itself on the program; `globals()` reads the global options at run time. */
export type RegisterVerb = (program: Command, globals: () => GlobalOptions) => void;

export function engineOptions(globals: GlobalOptions): EngineOptions {
  return {
    stateFile: globals.state ?? process.env.WARDEN_STATE ?? undefined,
    socket: globals.socket ?? process.env.WARDEN_TMUX_SOCKET ?? undefined,
  };
}

/**
 * Opens an engine for one verb, with the user's hooks wired in from the first transition; closes
 * it (and waits for the hooks it set off) whatever the verb did. A bad config fails before anything
 * is opened.
 */
export async function withEngine<T>(
  globals: GlobalOptions,
  body: (engine: Engine) => Promise<T>,
  options: Partial<EngineOptions> = {},
): Promise<T> {
  const opened = { ...engineOptions(globals), ...options };
  const hooks = await cliHooks(globals, opened);
  const engine = await createEngine({ ...opened, onTransition: hooks?.listener });
  try {
    return await body(engine);
  } finally {
    await engine.close();
    await hooks?.close();
  }
}

/** The hooks of `--config`, `$WARDEN_CONFIG` or `warden.config.json` beside the state file; failures go to stderr. */
async function cliHooks(globals: GlobalOptions, options: EngineOptions): Promise<HookRunner | null> {
  const named = globals.config ?? process.env.WARDEN_CONFIG;
  const stateFile = options.stateFile ?? defaultStatePath();
  const file = path.resolve(named ?? defaultConfigPath(stateFile));
  if (!named && !existsSync(file)) return null;
  const config = await loadHooksConfig(file, { required: Boolean(named) });
  if (!config) return null;
  return new HookRunner(config, {
    stateFile,
    socket: typeof options.socket === 'string' ? options.socket : undefined,
    cwd: path.dirname(file),
    onResult: (result) => {
      if (!result.ok) process.stderr.write(`warden: ${result.message}\n`);
    },
  });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function describeSession(info: SessionInfo): string {
  const state = info.exitStatus !== null && info.state === 'active' ? `active (exited ${info.exitStatus})` : info.state;
  const where = info.windowId ? ` window ${info.windowId}` : '';
  const pid = info.pid !== null ? ` pid ${info.pid}` : '';
  return `${info.key}: ${state}${where}${pid}  ${info.command.join(' ')}`;
}

/** A commander option parser for repeatable `K=V` pairs. */
export function collectPair(flag: string) {
  return (value: string, previous: Record<string, string> = {}): Record<string, string> => {
    const at = value.indexOf('=');
    if (at <= 0) throw new InvalidInputError(`${flag} ${JSON.stringify(value)} is not K=V: write it as ${flag} NAME=value`);
    return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
  };
}
