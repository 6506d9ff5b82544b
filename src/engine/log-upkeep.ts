/**
 * Log upkeep a long-running engine does between reconciles: noting where running sessions' logs
 * stand (the resolution of `logs --since`), and now and then the retention of ended sessions'
 * logs, which `gc` also applies. Failures are left for the next time: upkeep never stops a watch.
 */
import { isActive } from '../../machines/paths.js';
import type { DurableView } from './durable-view.js';
import type { SessionLogSink } from './types.js';

/** How often a watch notes where running sessions' logs stand: the logs keep their marks 10 s apart. */
export const MARKS_EVERY_MS = 10_000;
/** How often a watch applies retention. */
export const RETENTION_EVERY_MS = 10 * 60_000;

export class LogUpkeep {
  private nextRetention = 0;
  private nextMarks = 0;

  constructor(
    private readonly logs: SessionLogSink,
    private readonly view: DurableView,
  ) {}

  async tick(now = Date.now()): Promise<void> {
    // Looking at every log on every watch pass (a stat and a read of its marks each) would mostly
    // find its last mark too recent to add one.
    if (now >= this.nextMarks) {
      this.nextMarks = now + MARKS_EVERY_MS;
      const running = [...this.view.entries()]
        .filter(([, record]) => isActive(record.snapshot.value))
        .map(([key, record]) => ({ key, sessionId: record.snapshot.context.sessionId }));
      await this.logs.markGrowth(running).catch(() => undefined);
    }
    if (now < this.nextRetention) return;
    this.nextRetention = now + RETENTION_EVERY_MS;
    await this.retain();
  }

  /** Applies retention; the logs of every session the state file holds are kept. Returns the session ids removed. */
  async retain(): Promise<string[]> {
    const live = new Set<string>();
    for (const [, record] of this.view.entries()) if (record.snapshot.context.sessionId) live.add(record.snapshot.context.sessionId);
    const result = await this.logs.applyRetention(live).catch(() => ({ removed: [] as string[] }));
    return result.removed;
  }
}
