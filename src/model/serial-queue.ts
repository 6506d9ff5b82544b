/** Runs tasks one at a time: a task starts only once the one before it has settled. */
export class SerialQueue {
  private running: Promise<unknown> | null = null;

  async run<T>(task: () => Promise<T>): Promise<T> {
    while (this.running) await this.running.catch(() => undefined);
    const run = task();
    this.running = run;
    try {
      return await run;
    } finally {
      if (this.running === run) this.running = null;
    }
  }
}
