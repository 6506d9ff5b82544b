/**
 * `warden inspect`: the reconcile loop of `watch`, with every session actor shown live in the
 * Stately inspector; `--replay FILE` plays a log written by `--inspect-log` into it instead.
 */
import { createInterface } from 'node:readline';
import { colorsFor, transitionLine } from './format.js';
import { warn } from './output.js';
import { examples, parsePort, reportProbe, withEngine, type RegisterVerb } from './shared.js';
import { parseInterval } from './watch.js';

/** Aborts on Ctrl-C or SIGTERM, so the loop ends and everything is closed in order. */
function untilStopped(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  // Not `once`: signal-exit (execa) re-raises a signal when its own handler is
  // the only one left, and a `once` handler is gone by the time it looks.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export const registerInspect: RegisterVerb = (program, globals) => {
  program
    .command('inspect')
    .description('like watch, with every session actor shown live in the Stately inspector')
    .option('--port <n>', 'port of the local inspector server (0 picks a free one)', parsePort, 8080)
    .option('--interval <ms>', 'time between two reconciles, in milliseconds', parseInterval, 500)
    .option('--replay <file>', 'play a log written by --inspect-log into the inspector instead of watching')
    .addHelpText(
      'after',
      examples(
        'warden inspect                      # open the printed URL, then spawn, kill windows, end…',
        'warden --inspect-log run.jsonl spawn api-fix -- claude',
        'warden inspect --replay run.jsonl',
      ),
    )
    .action(async (opts: { port: number; interval: number; replay?: string }) => {
      const g = globals();
      // Loaded on demand: the other verbs' cold start does not pay for the inspector.
      const inspection = await import('../observe/inspect.js');
      // A bad log is refused before anything starts.
      const recorded = opts.replay ? await inspection.readInspectionLog(opts.replay) : null;
      const stopped = untilStopped();
      const server = await inspection.startInspectorServer(opts.port);
      try {
        // With --json every line is one JSON object: this one, then one per transition.
        if (g.json) say(JSON.stringify({ url: server.url, wsUrl: server.wsUrl }));
        else {
          say(`inspector: open ${server.url} in a browser; Ctrl-C to stop`);
          if (!recorded) say(`other warden commands show there too with WARDEN_INSPECT=${server.wsUrl}`);
        }
        // Not awaited: the watch starts now; the answer comes within the check's timeout.
        const page = inspection.statelyPageUrl();
        void inspection.statelyPageProblem(page).then((problem) => {
          if (problem) {
            warn(
              'INSPECTOR_OFFLINE',
              `the Stately inspector page (${page}) cannot load from here (${problem}): it needs the internet; 'warden ui' shows every session and its statechart offline`,
            );
          }
        });

        if (recorded) {
          const play = async () => {
            const sent = await inspection.replayInspectionEvents(server.wsUrl, recorded);
            if (!g.json) say(`replayed ${sent} events from ${opts.replay} (the server keeps the last 200 for a page opened later)`);
          };
          await play();
          if (process.stdin.isTTY) {
            say('press Enter to play it again');
            const lines = createInterface({ input: process.stdin });
            lines.on('line', () => void play());
            stopped.signal.addEventListener('abort', () => lines.close(), { once: true });
          }
          if (!stopped.signal.aborted) await new Promise((resolve) => stopped.signal.addEventListener('abort', resolve, { once: true }));
          return;
        }

        // This process is the inspector: its own actors go to it through `live`, not twice.
        delete process.env.WARDEN_INSPECT;
        const live = inspection.connectInspector(server.wsUrl);
        const c = colorsFor(process.stdout);
        try {
          // As `watch`: subscribed before the first reconcile, so nothing that changed is missed.
          await withEngine(
            g,
            async (engine) => {
              engine.subscribe((t) => process.stdout.write(g.json ? `${JSON.stringify(t)}\n` : transitionLine(t, c)));
              reportProbe(await engine.reconcile());
              await engine.watch({ intervalMs: opts.interval, signal: stopped.signal });
            },
            { inspect: live.observer, reconcile: false },
          );
        } finally {
          await live.stop();
        }
      } finally {
        stopped.release();
        await server.stop();
      }
    });
};
