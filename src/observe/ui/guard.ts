/**
 * Who may talk to the `warden ui` server. It listens on 127.0.0.1 only, but any web page the
 * user opens can make the browser send requests to a loopback port, and DNS rebinding can make
 * such a page same-origin with a name it controls. So every request must:
 * - name our address in `Host` (127.0.0.1:PORT or localhost:PORT): a rebound name is refused;
 * - come from our own origin when the browser says where it comes from (`Origin`,
 *   `Sec-Fetch-Site`): another page's fetch, form or EventSource is refused;
 * - carry the token printed at start (in the URL for the page and its event stream, in a
 *   header for actions), compared in constant time;
 * - for an action: be a POST of JSON, which no form can send cross-origin without CORS.
 * Only the static assets (the package's own code) are served without the token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TOKEN_HEADER } from './protocol.js';

import { LOOPBACK } from '../loopback.js';

export { LOOPBACK };

export interface Refusal {
  status: number;
  code: string;
  message: string;
}

export interface GuardOptions {
  port: number;
  token: string;
}

function origins(port: number): Set<string> {
  return new Set([`http://${LOOPBACK}:${port}`, `http://localhost:${port}`]);
}

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token of a request: the `token` query parameter or the token header. */
function tokenOf(req: IncomingMessage, url: URL): string | null {
  const header = req.headers[TOKEN_HEADER];
  return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('token');
}

/** Host and origin checks: what every request must pass, assets included. */
export function checkOrigin(req: IncomingMessage, { port }: Pick<GuardOptions, 'port'>): Refusal | null {
  const host = req.headers.host ?? '';
  if (!new Set([`${LOOPBACK}:${port}`, `localhost:${port}`]).has(host)) {
    return { status: 403, code: 'FORBIDDEN', message: `Host ${JSON.stringify(host)} is not this server: open http://${LOOPBACK}:${port}/` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !origins(port).has(origin)) {
    return { status: 403, code: 'FORBIDDEN', message: `requests from ${origin} are refused: use the page warden ui printed` };
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { status: 403, code: 'FORBIDDEN', message: `${site} requests are refused: use the page warden ui printed` };
  }
  return null;
}

/** Everything but the assets: the token too, and for an action a JSON POST. */
export function checkRequest(req: IncomingMessage, url: URL, options: GuardOptions, { action = false } = {}): Refusal | null {
  const refused = checkOrigin(req, options);
  if (refused) return refused;
  if (!sameToken(tokenOf(req, url), options.token)) {
    return { status: 403, code: 'FORBIDDEN', message: 'the token is missing or wrong: open the URL warden ui printed (it carries the token)' };
  }
  if (!action) return null;
  if (req.method !== 'POST') return { status: 405, code: 'INVALID_INPUT', message: 'actions are POST requests' };
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    return { status: 415, code: 'INVALID_INPUT', message: 'an action body is JSON (content-type: application/json)' };
  }
  return null;
}
