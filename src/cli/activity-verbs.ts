/** The activity verbs: signal (an agent's own hook reports), wait (block until a state). */
import { WAIT_UNTIL } from '../engine.js';
import { InvalidInputError, WardenError } from '../model/errors.js';
import { colorsFor, standingLine } from './format.js';
import { examples, parseKey, printJson, withEngine, type RegisterVerb } from './shared.js';

/** A commander parser for a time in seconds (`30`, `1.5`). */
export function parseSeconds(flag: string) {
  return (value: string): number => {
    if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidInputError(`${flag} ${JSON.stringify(value)} is not a time in seconds: use e.g. ${flag} 30`);
    return Math.round(Number(value) * 1000);
  };
}

export const registerSignal: RegisterVerb = (program, globals) => {
  program
    .command('signal')
    .description("record what the session's agent says it does (for its own hooks; WARDEN_KEY is in its environment)")
    .argument('<key>', 'the session key', parseKey)
    .argument('<activity>', 'busy, idle or waiting')
    .addHelpText(
      'after',
      examples(
        'warden signal "$WARDEN_KEY" waiting   # from a Claude Code Notification or Stop hook',
        'warden signal api-fix busy',
      ),
    )
    .action(async (key: string, activity: string) => {
      const g = globals();
      if (!['busy', 'idle', 'waiting'].includes(activity)) {
        throw new InvalidInputError(`unknown activity ${JSON.stringify(activity)}: use busy, idle or waiting`);
      }
      const info = await withEngine(g, (engine) => engine.signal(key, activity as 'busy'));
      if (g.json) printJson(info);
    });
};

export const registerWait: RegisterVerb = (program, globals) => {
  program
    .command('wait')
    .description('block until the session reaches one of the states or activities (exit 1 on --timeout)')
    .argument('<key>', 'the session key', parseKey)
    .requiredOption('--until <states>', `comma-separated: ${WAIT_UNTIL.join(', ')}`)
    .option('--timeout <seconds>', 'give up after this long (exit 1, printing the state it was in)', parseSeconds('--timeout'))
    .addHelpText(
      'after',
      examples(
        'warden wait api-fix --until waiting,idle --timeout 600 && warden send api-fix "next task"',
        'warden wait api-fix --until exited,ended',
      ),
    )
    .action(async (key: string, opts: { until: string; timeout?: number }) => {
      const g = globals();
      const until = opts.until.split(',').map((s) => s.trim());
      const result = await withEngine(g, (engine) => engine.wait(key, until, { timeoutMs: opts.timeout }), { activity: true });
      const c = colorsFor(process.stdout);
      if (g.json) printJson({ reached: result.reached, session: result.session });
      else if (result.session) process.stdout.write(standingLine(result.session, c));
      else process.stdout.write(`${key}: ended\n`);
      if (!result.reached) {
        const now = result.session ? result.session.activity ?? result.session.state : 'ended';
        throw new WardenError('TIMED_OUT', `${key} is ${now} after ${opts.timeout! / 1000}s, not ${until.join(' or ')}`);
      }
    });
};
