/** The JSON Schemas in schemas/ are generated from the zod schemas: a stale one fails here. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PUBLISHED_SCHEMAS, schemaPath } from '../scripts/docs.js';
import { jsonSchemaText } from '../src/model/json-schemas.js';

describe('published JSON Schemas (run `npm run docs` when this fails)', () => {
  it.each(PUBLISHED_SCHEMAS.map((p) => [p.file, p] as const))('%s is what the zod schema generates', (_, published) => {
    expect(readFileSync(schemaPath(published.file), 'utf8')).toBe(jsonSchemaText(published));
  });

  it('the sessions file schema names every field of an entry, and refuses others', () => {
    const schema = JSON.parse(readFileSync(schemaPath('sessions-file.schema.json'), 'utf8'));
    const entry = schema.properties.sessions.additionalProperties;
    expect(Object.keys(entry.properties)).toEqual(['command', 'resumeCommand', 'cwd', 'env', 'passEnv', 'labels', 'group', 'restart']);
    expect(entry.additionalProperties).toBe(false);
    expect(entry.required).toEqual(['command']);
  });
});
