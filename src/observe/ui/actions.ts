/**
 * The page's actions, as the CLI's verbs do them: the same engine calls, so the same guards,
 * refusals and messages (`send` to an exited pane, `resume` of nothing, `end` of a spawning
 * session …). An error's HTTP status follows the CLI's exit code.
 */
import { validateKey, type Engine } from '../../engine.js';
import { InvalidInputError, WardenError } from '../../model/errors.js';
import { sessionView } from './feed.js';
import { UI_ACTIONS, type ActionReply, type UiAction } from './protocol.js';

export function isUiAction(name: string): name is UiAction {
  return (UI_ACTIONS as readonly string[]).includes(name);
}

/** HTTP status of an error, from the CLI's exit code: 2 bad input, 3 conflict, 4 no such session. */
export function httpStatusOf(err: unknown): number {
  if (!(err instanceof WardenError)) return 500;
  return ({ 2: 400, 3: 409, 4: 404 } as Record<number, number>)[err.exitCode] ?? 500;
}

export function errorReply(err: unknown): ActionReply {
  if (err instanceof WardenError) return { error: { code: err.code, message: err.message } };
  return { error: { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) } };
}

function sendBody(body: unknown): { text: string; enter: boolean } {
  const fields = (body ?? {}) as { text?: unknown; enter?: unknown };
  if (typeof fields.text !== 'string' || (fields.enter !== undefined && typeof fields.enter !== 'boolean')) {
    throw new InvalidInputError('send takes {"text": "…", "enter": true|false}');
  }
  return { text: fields.text, enter: fields.enter ?? true };
}

/** Runs one action on `key`; throws what the engine throws. */
export async function runAction(engine: Engine, key: string, action: UiAction, body: unknown): Promise<ActionReply> {
  validateKey(key);
  const current = () => {
    const info = engine.get(key);
    return info ? sessionView(info) : null;
  };
  switch (action) {
    case 'send': {
      const { text, enter } = sendBody(body);
      await engine.send(key, text, { enter });
      return { session: current(), message: `sent ${Buffer.byteLength(text)} bytes to ${key}${enter ? ' and pressed Enter' : ''}` };
    }
    case 'resume': {
      const info = sessionView(await engine.spawn(key, { mode: 'resume' }));
      return { session: info, message: `${key} resumed: ${info.statePath}` };
    }
    case 'fresh': {
      const info = sessionView(await engine.spawn(key, { mode: 'fresh' }));
      return { session: info, message: `${key} restarted with a new session id: ${info.statePath}` };
    }
    case 'end':
      await engine.end(key);
      return { session: null, message: `${key} ended` };
  }
}
