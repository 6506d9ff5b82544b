/**
 * `warden ui`: the local page (sessions live, their statecharts, log tails, actions), served on
 * 127.0.0.1 behind a random token for as long as it runs. It watches as `watch` does, so what
 * other processes change shows within the watch interval.
 */
import { execa } from 'execa';
import { logsText } from './logs.js';
import { warn } from './output.js';
import { examples, parsePort, reportProbe, withEngine, type RegisterVerb } from './shared.js';
import { parseInterval } from './watch.js';

/** Opens `url` in the desktop's browser; a desktop without one costs a line on stderr. */
function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  const child = execa(opener, [url], { detached: true, stdio: 'ignore', reject: false });
  child.unref();
  void child.then((result) => {
    if (result.failed) warn('BROWSER_FAILED', `could not open a browser (${result.shortMessage}): open the URL above yourself`);
  });
}

export const registerUi: RegisterVerb = (program, globals) => {
  program
    .command('ui')
    .description('a local live page: every session, its statechart, its log tail, and actions (no internet needed)')
    .option('--port <n>', 'port on 127.0.0.1 (0, the default, picks a free one)', parsePort, 0)
    .option('--open', 'open the page in the default browser')
    .option('--interval <ms>', 'time between two reconciles while tmux cannot notify, in milliseconds', parseInterval, 500)
    .addHelpText(
      'after',
      examples(
        'warden ui                 # prints http://127.0.0.1:PORT/?token=…; Ctrl-C to stop',
        'warden ui --port 7420 --open',
      ),
    )
    .action(async (opts: { port: number; open?: boolean; interval: number }) => {
      const g = globals();
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      // Not `once`: signal-exit (execa, proper-lockfile) re-raises a signal when its own handler
      // is the only one left, and a `once` handler is gone by the time it looks.
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        // Loaded on demand: the other verbs' cold start does not pay for the server.
        const { startUiServer } = await import('../observe/ui/server.js');
        await withEngine(
          g,
          async (engine) => {
            reportProbe(await engine.reconcile());
            // The page's log tail is what `warden logs KEY -n LINES` prints.
            const logTail = async (key: string, lines: number) => (await logsText(engine, key, { lines })).text;
            const ui = await startUiServer({ engine, port: opts.port, intervalMs: opts.interval, logTail });
            try {
              if (g.json) process.stdout.write(`${JSON.stringify({ url: ui.url, port: ui.port })}\n`);
              else process.stdout.write(`warden ui: open ${ui.url}\n(the token in the URL is the key to the page: keep it to yourself; Ctrl-C to stop)\n`);
              if (opts.open) openBrowser(ui.url);
              await engine.watch({ intervalMs: opts.interval, signal: stop.signal });
            } finally {
              await ui.close();
            }
          },
          { reconcile: false },
        );
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
};
