/**
 * `npm run schemas`: writes the JSON Schemas of what tmux-warden reads and prints, generated from
 * the zod schemas that validate them (`z.toJSONSchema`), into schemas/ (shipped in the package).
 * `test/schemas.test.ts` fails when a committed file differs from what this would write.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { ConfigSchema } from '../src/config/schema.js';
import { SessionsFileSchema } from '../src/fleet/schema.js';
import { SessionInfoSchema, StateDocumentSchema, TransitionEventSchema } from '../src/model/schema.js';

/** schemas/, from this file in scripts/ or compiled in dist/scripts/. */
export const SCHEMAS_DIR = fileURLToPath(new URL(`${import.meta.url.includes('/dist/') ? '../..' : '..'}/schemas`, import.meta.url));

interface Published {
  schema: z.ZodType;
  title: string;
  description: string;
  /** `input` for a file people write (defaults may be left out), `output` for what warden prints. */
  io: 'input' | 'output';
}

export const PUBLISHED: Record<string, Published> = {
  session: {
    schema: SessionInfoSchema,
    title: 'tmux-warden session object',
    description: 'One session, as spawn/status/end --json print it and ls --json lists it.',
    io: 'output',
  },
  'watch-event': {
    schema: TransitionEventSchema,
    title: 'tmux-warden transition event',
    description: 'One line of watch --json: a transition, printed once it is durable in the state file.',
    io: 'output',
  },
  'state-file': {
    schema: StateDocumentSchema,
    title: 'tmux-warden state file',
    description: 'The lowdb JSON file that holds every session record and the bounded history.',
    io: 'output',
  },
  config: {
    schema: ConfigSchema,
    title: 'tmux-warden config file',
    description: '$XDG_CONFIG_HOME/tmux-warden/config.yaml (YAML or JSON): hooks run when sessions change state, activity profiles, defaults.',
    io: 'input',
  },
  'sessions-file': {
    schema: SessionsFileSchema,
    title: 'tmux-warden sessions file',
    description: 'warden.yaml (YAML or JSON): the sessions up starts, resumes or restarts and down ends. Sessions only, never hooks.',
    io: 'input',
  },
};

/** File name → its text, as schemas/ should hold it. */
export function jsonSchemas(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [name, { schema, title, description, io }] of Object.entries(PUBLISHED)) {
    const { $schema, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12' });
    files[`${name}.schema.json`] = `${JSON.stringify({ $schema, title, description, ...rest }, null, 2)}\n`;
  }
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(SCHEMAS_DIR, { recursive: true });
  for (const [file, text] of Object.entries(jsonSchemas())) {
    const path = join(SCHEMAS_DIR, file);
    let before = '';
    try {
      before = readFileSync(path, 'utf8');
    } catch {
      // A new schema.
    }
    if (before !== text) writeFileSync(path, text);
    process.stdout.write(`${before === text ? 'up to date' : 'written'}: ${path}\n`);
  }
}
