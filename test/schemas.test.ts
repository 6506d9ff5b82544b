/**
 * The JSON Schemas in schemas/ (shipped in the package) are generated from the zod schemas that
 * validate the same data: a change to a zod schema without `npm run schemas` fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonSchemas, SCHEMAS_DIR } from '../scripts/schemas.js';

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
});
