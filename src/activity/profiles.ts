/**
 * Activity profiles: how to read an agent's screen once its output goes quiet. A profile names
 * the programs it fits, its quiet period, the patterns that mean it waits for its user (a prompt
 * box, a permission question, "press enter"), the ones that mean it still works (a spinner's
 * "esc to interrupt") and the ones that must not count as waiting (error banners). Built-ins cover
 * claude, codex, aider, opencode, gemini and a plain shell; user profiles (validated here) add to
 * or replace them. Pure: no I/O.
 */
import path from 'node:path';
import * as z from 'zod';
import type { Activity } from '../model/schema.js';

/** A regular expression, as text (JavaScript syntax, matched per line, case-sensitive unless `(?i)`-free flags say otherwise). */
const PatternSchema = z.string().min(1, 'a pattern may not be empty').refine((source) => {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

/** One profile as the config file writes it; every field has a default. */
export const ProfileSchema = z.strictObject({
  /** Program names that select this profile (`claude`, `codex`): the command's basename. */
  commands: z.array(z.string().min(1)).default([]),
  /** No output for this long means quiet: the screen is read then. */
  quietMs: z.number().int().min(100).max(3_600_000).default(2000),
  /** How long `send` waits between the pasted text and Enter (some TUIs read a quick Enter as a newline). */
  enterDelayMs: z.number().int().min(0).max(10_000).default(0),
  /** How many of the screen's bottom non-empty lines the patterns look at. */
  lines: z.number().int().min(1).max(200).default(15),
  /** Lines that mean the program waits for its user. */
  waiting: z.array(PatternSchema).default([]),
  /** Lines that mean it still works although quiet (a paused spinner). */
  busy: z.array(PatternSchema).default([]),
  /** Lines that must not count as waiting (error banners): quiet with one of them is idle. */
  notWaiting: z.array(PatternSchema).default([]),
  /** After `send`, check the screen that the text left the input line (and press Enter once more if not). */
  verifySubmit: z.boolean().default(false),
});
export type Profile = z.infer<typeof ProfileSchema>;
export type ProfileInput = z.input<typeof ProfileSchema>;

/** A profile name: what `--profile` and a session entry's `profile` take. */
export const ProfileNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a profile name is 1-64 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit');

/** The `profiles` section of the config file: name → profile. A user profile named like a built-in replaces it. */
export const ProfilesSchema = z.record(ProfileNameSchema, ProfileSchema);
export type Profiles = z.infer<typeof ProfilesSchema>;
export type ProfilesInput = z.input<typeof ProfilesSchema>;

const PRESS_ENTER = '[Pp]ress [Ee]nter';
const YES_NO = '\\((y/n|Y/n|y/N|yes/no)\\)|\\[(y/n|Y/n|y/N)\\]';

/** The built-in profiles, from what each program's screen shows. */
export const BUILTIN_PROFILES: Readonly<Record<string, Profile>> = Object.freeze({
  claude: ProfileSchema.parse({
    commands: ['claude', 'claude-code'],
    quietMs: 1500,
    enterDelayMs: 150,
    waiting: ['^\\s*[│|]\\s*>', '^\\s*>\\s*(Try |$)', 'Do you want to', '❯\\s*\\d+\\.\\s*Yes', PRESS_ENTER, YES_NO],
    busy: ['esc to interrupt', '\\besc to cancel\\b'],
    notWaiting: ['API Error', '^\\s*⎿\\s+Error', '^\\s*Error:'],
    verifySubmit: true,
  }),
  codex: ProfileSchema.parse({
    commands: ['codex'],
    quietMs: 1500,
    // Codex reads an Enter within about 120 ms of pasted text as a newline.
    enterDelayMs: 250,
    waiting: ['^\\s*▌', '^\\s*›', 'Allow command\\?', 'Approve', 'approval', PRESS_ENTER, YES_NO],
    busy: ['[Ee]sc to interrupt', 'Working \\('],
    notWaiting: ['^\\s*■', 'stream error', '^\\s*(ERROR|Error):'],
    verifySubmit: true,
  }),
  aider: ProfileSchema.parse({
    commands: ['aider', 'aider-chat'],
    quietMs: 2000,
    waiting: ['^[\\w ]*> ?$', '\\(Y\\)es/\\(N\\)o', PRESS_ENTER, YES_NO],
    notWaiting: ['litellm\\.\\w*Error', '^\\s*(Error|ERROR)\\b'],
  }),
  opencode: ProfileSchema.parse({
    commands: ['opencode', 'opencode-ai'],
    quietMs: 1500,
    enterDelayMs: 100,
    waiting: ['^\\s*[┃│>]\\s*$', 'enter send', 'Allow (once|always)', 'Permission required', PRESS_ENTER, YES_NO],
    busy: ['esc (to )?interrupt', '[Ww]orking\\.\\.\\.'],
    notWaiting: ['^\\s*(Error|ERROR)\\b', 'API error'],
    verifySubmit: true,
  }),
  gemini: ProfileSchema.parse({
    commands: ['gemini', 'gemini-cli'],
    quietMs: 1500,
    enterDelayMs: 100,
    waiting: ['Type your message', 'Allow execution', 'Yes, allow (once|always)', 'Waiting for user confirmation', PRESS_ENTER, YES_NO],
    busy: ['esc to cancel'],
    notWaiting: ['API Error', '^\\s*✕'],
    verifySubmit: true,
  }),
  shell: ProfileSchema.parse({
    commands: ['sh', 'bash', 'zsh', 'fish', 'dash', 'ksh', 'tcsh', 'nu'],
    quietMs: 1000,
    waiting: ['[$#%>❯]\\s*$', PRESS_ENTER, YES_NO],
  }),
});

/** Programs that run another program named by their next argument (`npx @openai/codex`). */
const RUNNERS = new Set(['npx', 'bunx', 'pnpx', 'pnpm', 'yarn', 'bun', 'node', 'deno', 'uvx', 'pipx', 'env', 'exec', 'nohup', 'python', 'python3']);
const SHELLS = new Set(BUILTIN_PROFILES.shell!.commands);

/** `@openai/codex@1.2` → `codex`; `/usr/bin/claude` → `claude`. */
function programName(word: string): string {
  return path.basename(word.replace(/(.)@[^@/]*$/, '$1')).replace(/\.(js|mjs|cjs|py|sh)$/, '');
}

/**
 * The program names a command runs, most specific first: `sh -c 'claude …'` runs claude,
 * `npx @openai/codex` runs codex, `bash` alone is a shell.
 */
export function programsOf(command: readonly string[]): string[] {
  const [first, ...rest] = command;
  if (first === undefined) return [];
  const name = programName(first);
  if (SHELLS.has(name)) {
    const script = rest[0] === '-c' || rest[0] === '-lc' ? rest[1] : undefined;
    if (script !== undefined) return programsOf(script.trim().split(/\s+/).filter((w) => !/^\w+=/.test(w) && w !== 'exec'));
    return [name];
  }
  if (RUNNERS.has(name)) {
    const next = rest.find((word) => !word.startsWith('-') && !/^\w+=/.test(word));
    return next === undefined ? [name] : [...programsOf([next]), name];
  }
  return [name];
}

/** The profiles a session can use: the built-ins, with the user's added (a user profile named like a built-in replaces it). */
export class ProfileBook {
  private readonly profiles: ReadonlyMap<string, Profile>;

  constructor(user: Profiles = {}) {
    this.profiles = new Map([...Object.entries(BUILTIN_PROFILES), ...Object.entries(user)]);
  }

  names(): string[] {
    return [...this.profiles.keys()].sort();
  }

  get(name: string): Profile | undefined {
    return this.profiles.get(name);
  }

  /**
   * The profile of a session: the one it names (`--profile`), else the first whose `commands`
   * list the program it runs (user profiles before built-ins); null when none fits, and then
   * silence alone decides (quiet is idle).
   */
  resolve(command: readonly string[], named?: string | null): { name: string; profile: Profile } | null {
    if (named) {
      const profile = this.profiles.get(named);
      return profile ? { name: named, profile } : null;
    }
    const ordered = [...this.profiles].reverse();
    for (const program of programsOf(command)) {
      const found = ordered.find(([, profile]) => profile.commands.includes(program));
      if (found) return { name: found[0], profile: found[1] };
    }
    return null;
  }
}

/** What the bottom of a quiet screen says under a profile. */
export interface ScreenReading {
  activity: Activity;
  /** `pattern` when a line matched (it is in `matched`), `silence` when none did. */
  source: 'pattern' | 'silence';
  matched: string | null;
}

/** The bottom `count` non-empty lines of a captured screen, trailing blanks trimmed. */
export function bottomLines(screen: string, count: number): string[] {
  return screen
    .split('\n')
    .map((line) => line.replace(/\s+$/, ''))
    .filter((line) => line !== '')
    .slice(-count);
}

const compiled = new Map<string, RegExp>();
function regex(source: string): RegExp {
  let re = compiled.get(source);
  if (!re) {
    re = new RegExp(source);
    compiled.set(source, re);
  }
  return re;
}

/** The last of `lines` (bottom first) that one of `patterns` matches. */
function lastMatch(lines: readonly string[], patterns: readonly string[]): string | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (patterns.some((p) => regex(p).test(line))) return line.trim();
  }
  return null;
}

/**
 * Reads a quiet screen: an error banner is idle (never waiting), a paused spinner is still busy,
 * a prompt or a question is waiting, anything else is idle by silence. No profile: idle by silence.
 */
export function readScreen(profile: Profile | null, screen: string): ScreenReading {
  if (!profile) return { activity: 'idle', source: 'silence', matched: null };
  const lines = bottomLines(screen, profile.lines);
  const banner = lastMatch(lines, profile.notWaiting);
  if (banner !== null) return { activity: 'idle', source: 'pattern', matched: banner };
  const working = lastMatch(lines, profile.busy);
  if (working !== null) return { activity: 'busy', source: 'pattern', matched: working };
  const waiting = lastMatch(lines, profile.waiting);
  if (waiting !== null) return { activity: 'waiting', source: 'pattern', matched: waiting };
  return { activity: 'idle', source: 'silence', matched: null };
}

/** The quiet period of a session with no profile: silence alone decides. */
export const DEFAULT_QUIET_MS = 2000;
