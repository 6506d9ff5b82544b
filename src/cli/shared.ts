/**
 * What every `warden` verb shares: the global options, opening an engine, printing.
 * Verbs parse, call the engine and print; nothing else.
 */
import type { Command } from 'commander';
import { createEngine, type Engine, type EngineOptions } from '../engine.js';
import { InvalidInputError } from '../errors.js';
import type { SessionInfo } from '../schema.js';

export interface GlobalOptions {
  state?: string;
  socket?: string;
  json?: boolean;
  /** Append the XState inspection events of this run to this file (JSONL). */
  inspectLog?: string;
}

/** A verb registers itself on the program; `globals()` reads the global options at run time. */
export type RegisterVerb = (program: Command, globals: () => GlobalOptions) => void;

export function engineOptions(globals: GlobalOptions): EngineOptions {
  return {
    stateFile: globals.state ?? process.env.WARDEN_STATE ?? undefined,
    socket: globals.socket ?? process.env.WARDEN_TMUX_SOCKET ?? undefined,
  };
}

export async function withEngine<T>(
  globals: GlobalOptions,
  body: (engine: Engine) => Promise<T>,
  options: Partial<EngineOptions> = {},
): Promise<T> {
  const liveUrl = process.env.WARDEN_INSPECT || undefined;
  // Loaded only when asked for: the inspector is not part of every verb's cold start.
  const inspection = globals.inspectLog || liveUrl ? await import('../inspect.js') : null;
  const log = inspection && globals.inspectLog ? await inspection.openInspectionLog(globals.inspectLog) : null;
  const live = inspection && liveUrl ? inspection.streamToInspector(liveUrl) : null;
  const inspect = inspection
    ? inspection.combineObservers([options.inspect, log?.observer, live?.observer])
    : options.inspect;
  try {
    const engine = await createEngine({ ...engineOptions(globals), ...options, inspect });
    try {
      return await body(engine);
    } finally {
      await engine.close();
    }
  } finally {
    await live?.stop();
    await log?.close();
  }
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
