/** `warden watch`: stay running, reconcile continuously, print each transition once it is durable. */
import { colorsFor, transitionLine } from './format.js';
import { InvalidInputError } from '../model/errors.js';
import { examples, reportProbe, withEngine, type RegisterVerb } from './shared.js';

export function parseInterval(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 10) {
    throw new InvalidInputError(`--interval ${JSON.stringify(value)} is not a time in milliseconds: use e.g. --interval 500`);
  }
  return Number(value);
}

export const registerWatch: RegisterVerb = (program, globals) => {
  program
    .command('watch')
    .description('stay running: reconcile with tmux continuously and print each transition (NDJSON with --json)')
    .option('--interval <ms>', 'time between two reconciles while tmux cannot notify (no control client attached), in milliseconds', parseInterval, 500)
    .addHelpText('after', examples('warden watch', "warden watch --json | jq -c 'select(.to == \"orphaned\")'"))
    .action(async (opts: { interval: number }) => {
      const g = globals();
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      // Not `once`: signal-exit (execa, proper-lockfile) re-raises a signal when its own handler
      // is the only one left, and a `once` handler is gone by the time it looks.
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const c = colorsFor(process.stdout);
      try {
        // Subscribed before the first reconcile, so a change that happened while nobody watched
        // is printed too. withEngine closes the engine after the loop: pending writes land first.
        await withEngine(
          g,
          async (engine) => {
            engine.subscribe((t) => {
              process.stdout.write(g.json ? `${JSON.stringify(t)}\n` : transitionLine(t, c));
            });
            reportProbe(await engine.reconcile());
            process.stderr.write(
              g.json ? `${JSON.stringify({ watching: engine.stateFile })}\n` : `warden: watching ${engine.stateFile} (Ctrl-C to stop)\n`,
            );
            await engine.watch({ intervalMs: opts.interval, signal: stop.signal });
          },
          { reconcile: false },
        );
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
};
