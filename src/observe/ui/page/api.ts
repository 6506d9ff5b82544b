/** The page's requests: every one carries the token the page was opened with. */
import { TOKEN_HEADER, type ActionReply, type ChartView, type UiAction } from '../protocol.js';

export const token = new URLSearchParams(location.search).get('token') ?? '';

function headers(json = false): HeadersInit {
  return json ? { [TOKEN_HEADER]: token, 'content-type': 'application/json' } : { [TOKEN_HEADER]: token };
}

async function body<T>(response: Response): Promise<T> {
  const data = (await response.json()) as T | { error: { message: string } };
  if (!response.ok) throw new Error((data as { error?: { message?: string } }).error?.message ?? `HTTP ${response.status}`);
  return data as T;
}

export function eventsUrl(): string {
  return `/api/events?token=${encodeURIComponent(token)}`;
}

export async function fetchChart(): Promise<ChartView> {
  return body<ChartView>(await fetch(`/api/chart?token=${encodeURIComponent(token)}`));
}

export async function fetchLog(key: string, lines = 200): Promise<string> {
  const reply = await body<{ text: string }>(await fetch(`/api/sessions/${encodeURIComponent(key)}/log?lines=${lines}`, { headers: headers() }));
  return reply.text;
}

/** Runs an action; resolves with the server's one-line message, rejects with its error message. */
export async function act(key: string, action: UiAction, payload: unknown = {}): Promise<string> {
  const response = await fetch(`/api/sessions/${encodeURIComponent(key)}/${action}`, {
    method: 'POST',
    headers: headers(true),
    body: JSON.stringify(payload),
  });
  const reply = await body<ActionReply>(response);
  return 'message' in reply ? reply.message : '';
}
