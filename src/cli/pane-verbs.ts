/** The verbs that reach into a session's pane: attach, send. */
import { execa } from 'execa';
import { InvalidInputError, WardenError } from '../model/errors.js';
import { examples, parseKey, withEngine, type RegisterVerb } from './shared.js';

export const registerAttach: RegisterVerb = (program, globals) => {
  program
    .command('attach')
    .description("show the session's window: attach, or switch-client when already inside tmux")
    .argument('<key>', 'the session key', parseKey)
    .addHelpText('after', examples('warden attach api-fix   # detach again with C-b d'))
    .action(async (key: string) => {
      const g = globals();
      const { argv, inside } = await withEngine(g, async (engine) => {
        const onServer = await engine.clientOnServer(process.env.TMUX);
        return { argv: engine.attachCommand(key, onServer), inside: onServer };
      });
      if (!inside && !process.stdin.isTTY) {
        throw new InvalidInputError(`attach needs a terminal: run it from an interactive shell (or inside tmux)`);
      }
      // switch-client finds its client through $TMUX; a nested attach must not see the outer one.
      const env = { ...process.env };
      if (!inside) delete env.TMUX;
      const [bin, ...args] = argv;
      const result = await execa(bin!, args, { stdio: 'inherit', env, extendEnv: false, reject: false });
      if (result.failed) {
        throw new WardenError('TMUX_FAILED', `${argv.join(' ')} failed (${result.exitCode ?? result.shortMessage})`);
      }
    });
};

export const registerSend: RegisterVerb = (program, globals) => {
  program
    .command('send')
    .description('type text into the pane, literally (long or multi-line text goes through a tmux buffer), then Enter')
    .argument('<key>', 'the session key', parseKey)
    .argument('<text...>', 'the text; several words are joined by one space')
    .option('--no-enter', 'do not press Enter after the text')
    .addHelpText(
      'after',
      examples(
        "warden send api-fix 'run the tests and fix what fails'",
        'warden send api-fix --no-enter -- "$(cat prompt.md)"   # -- : the text may start with -',
      ),
    )
    .action(async (key: string, words: string[], opts: { enter: boolean }) => {
      const g = globals();
      await withEngine(g, (engine) => engine.send(key, words.join(' '), { enter: opts.enter }));
    });
};
