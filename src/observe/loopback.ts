/** Listening on loopback only, as the inspector relay and the `warden ui` page both do. */
import { once } from 'node:events';
import type { Server } from 'node:net';
import { ConflictError, WardenError, type ErrorCode } from '../model/errors.js';

export const LOOPBACK = '127.0.0.1';

/**
 * Listens on 127.0.0.1:`port` (0: any free one) and resolves with the port bound. A port in use
 * is a conflict naming --port; any other failure is `failCode`, naming the address.
 */
export async function listenOnLoopback(server: Server, port: number, failCode: ErrorCode): Promise<number> {
  try {
    server.listen(port, LOOPBACK);
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConflictError(`port ${port} is in use: pass --port with a free port (0 picks one)`);
    throw new WardenError(failCode, `cannot listen on ${LOOPBACK}:${port} (${code ?? String(err)})`);
  }
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}
