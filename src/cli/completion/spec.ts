/**
 * What shell completion knows about the CLI, read from the commander program itself: a verb or
 * option added to the CLI is completed without anyone editing a list. Hidden verbs are left out.
 */
import type { Argument, Command, Option } from 'commander';

export interface OptionSpec {
  flags: string[];
  description: string;
  /** What its value is: null for a switch. */
  value: { name: string; choices: readonly string[] | undefined } | null;
  /** Given more than once (`--env`, `--label`). */
  repeatable: boolean;
}

/**
 * How a positional argument completes: session keys, a fixed list, the program to run (`spawn …
 * -- CMD`), or nothing in particular.
 */
export type ArgumentKind =
  | { kind: 'key' }
  | { kind: 'choices'; choices: readonly string[] }
  | { kind: 'command' }
  | { kind: 'other' };

export type ArgumentSpec = ArgumentKind & { name: string; variadic: boolean };

export interface VerbSpec {
  name: string;
  description: string;
  options: OptionSpec[];
  arguments: ArgumentSpec[];
}

export interface ProgramSpec {
  name: string;
  globals: OptionSpec[];
  verbs: VerbSpec[];
}

/** Arguments named so take session keys (`<key>`, `[key...]`, `<keys...>`). */
const KEY_ARGUMENTS = new Set(['key', 'keys']);

function optionSpec(option: Option): OptionSpec {
  const flags = [option.short, option.long].filter((f): f is string => Boolean(f));
  const valueName = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  return {
    flags,
    description: option.description,
    value: option.required || option.optional ? { name: valueName ?? 'value', choices: option.argChoices } : null,
    repeatable: /repeatable/.test(option.description),
  };
}

function argumentSpec(argument: Argument): ArgumentSpec {
  const name = argument.name();
  const base = { name, variadic: argument.variadic };
  if (KEY_ARGUMENTS.has(name)) return { ...base, kind: 'key' };
  if (argument.argChoices) return { ...base, kind: 'choices', choices: argument.argChoices };
  if (name === 'command') return { ...base, kind: 'command' };
  return { ...base, kind: 'other' };
}

const helpOption: OptionSpec = { flags: ['-h', '--help'], description: 'show help', value: null, repeatable: false };

export function describeProgram(program: Command): ProgramSpec {
  const visible = program.commands.filter((cmd) => !(cmd as Command & { _hidden?: boolean })._hidden);
  return {
    name: program.name(),
    globals: [...program.options.map(optionSpec), helpOption],
    verbs: visible.map((cmd) => ({
      name: cmd.name(),
      description: cmd.description(),
      options: [...cmd.options.map(optionSpec), helpOption],
      arguments: (cmd as Command & { registeredArguments: readonly Argument[] }).registeredArguments.map(argumentSpec),
    })),
  };
}

/** Every flag of these options that takes a value. */
export function valueFlags(options: OptionSpec[]): string[] {
  return options.filter((o) => o.value).flatMap((o) => o.flags);
}

/** The hidden verb the scripts run to list keys: `warden [--state FILE] __keys VERB`. */
export const KEYS_VERB = '__keys';
