/** The verbs that reach into a session's pane: attach, send. */
import { execa } from 'execa';
import { InvalidInputError, WardenError } from '../model/errors.js';
import { parseSeconds } from './activity-verbs.js';
import { examples, parseKey, printJson, withEngine, type RegisterVerb } from './shared.js';

export const registerAttach: RegisterVerb = (program, globals) => {
  program
    .command('attach')
    .description("show the session's window in a view of your own: attach, or switch-client when already inside tmux")
    .argument('<key>', 'the session key', parseKey)
    .addHelpText('after', examples('warden attach api-fix   # detach again with C-b d'))
    .action(async (key: string) => {
      const g = globals();
      const { argv, inside } = await withEngine(g, async (engine) => {
        const onServer = await engine.clientOnServer(process.env.TMUX);
        const pane = process.env.TMUX_PANE;
        const client = onServer && pane ? await engine.clientShowing(pane) : null;
        await engine.closeUnwatchedViews();
        return { argv: engine.attachCommand(key, onServer, client), inside: onServer };
      });
      if (!inside && !process.stdin.isTTY) {
        throw new InvalidInputError(`attach needs a terminal: run it from an interactive shell (or inside tmux)`);
      }
      // switch-client finds its client through $TMUX; a nested attach must not see the outer one.
      const env = { ...process.env };
      if (!inside) delete env.TMUX;
      const [bin, ...args] = argv;
      const result = await execa(bin!, args, { stdio: 'inherit', env, extendEnv: false, reject: false });
      // Detached, or switched to another view: the view this showed, or the one it left, shows nobody now.
      await withEngine(g, (engine) => engine.closeUnwatchedViews(), { reconcile: false });
      if (result.failed) {
        throw new WardenError('TMUX_FAILED', `${argv.join(' ')} failed (${result.exitCode ?? result.shortMessage})`);
      }
    });
};

/** How long `send --wait-ready` waits when no time is given. */
const DEFAULT_WAIT_READY_MS = 300_000;

export const registerSend: RegisterVerb = (program, globals) => {
  program
    .command('send')
    .description('type text into the pane, literally (long or multi-line text goes through a tmux buffer), then Enter')
    .argument('<key>', 'the session key', parseKey)
    .argument('<text...>', 'the text; several words are joined by one space')
    .option('--no-enter', 'do not press Enter after the text')
    .option('--wait-ready [seconds]', 'first wait until the session is idle or waiting (default 300 s; exit 1 if it is not by then)', parseSeconds('--wait-ready'))
    .addHelpText(
      'after',
      examples(
        "warden send api-fix 'run the tests and fix what fails'",
        "warden send api-fix --wait-ready 600 'now the docs'",
        'warden send api-fix --no-enter -- "$(cat prompt.md)"   # -- : the text may start with -',
      ),
    )
    .action(async (key: string, words: string[], opts: { enter: boolean; waitReady?: number | true }) => {
      const g = globals();
      const waitReadyMs = opts.waitReady === true ? DEFAULT_WAIT_READY_MS : opts.waitReady;
      const result = await withEngine(g, (engine) => engine.send(key, words.join(' '), { enter: opts.enter, waitReadyMs }));
      if (g.json) printJson({ key, submitted: result.submitted });
      if (result.submitted === false) {
        throw new WardenError('TMUX_FAILED', `${key} did not take the text: it is still in its input line after two Enters ('warden logs ${key}' shows the screen)`);
      }
    });
};
