/**
 * The JSON Schemas in schemas/ (shipped in the package) are generated from the zod schemas that
 * validate the same data: a change to a zod schema without `npm run schemas` fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { jsonSchemas, SCHEMAS_DIR } from '../scripts/schemas.js';
import type { TransitionEvent } from '../src/index.js';
import type { TransitionEventSchema } from '../src/model/schema.js';

describe('JSON Schemas of the session object, the watch event, the state file and the config file', () => {
  it('are what the zod schemas generate (run `npm run schemas` after changing one)', () => {
    const expected = jsonSchemas();
    expect(readdirSync(SCHEMAS_DIR).sort()).toEqual(Object.keys(expected).sort());
    for (const [file, text] of Object.entries(expected)) {
      expect(readFileSync(join(SCHEMAS_DIR, file), 'utf8'), `schemas/${file} is stale: run 'npm run schemas'`).toBe(text);
    }
  });

  it('are draft 2020-12 documents with a title, describing objects', () => {
    for (const text of Object.values(jsonSchemas())) {
      const schema = JSON.parse(text) as Record<string, unknown>;
      expect(schema).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object' });
      expect(schema.title).toMatch(/^tmux-warden /);
    }
  });

  it('describe what the library hands out: the watch event is the TransitionEvent type', () => {
    // Checked by the type check (tsc covers test/): a field added to one and not the other fails it.
    expectTypeOf<z.infer<typeof TransitionEventSchema>>().toEqualTypeOf<TransitionEvent>();
  });
});
