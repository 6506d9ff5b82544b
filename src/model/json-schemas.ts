/**
 * The JSON Schemas published with the package, generated from the zod schemas (the one source of
 * truth) by `npm run docs` into `schemas/`; a test fails when a committed one is stale.
 */
import { z } from 'zod';

/** A file of `schemas/` and the zod schema it is generated from. */
export interface PublishedSchema {
  file: string;
  title: string;
  schema: z.ZodType;
}

/** The schema as JSON text: what a user's file is validated against (its input form), with a title. */
export function jsonSchemaText(published: PublishedSchema): string {
  const generated = z.toJSONSchema(published.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return `${JSON.stringify({ $schema, title: published.title, ...rest }, null, 2)}\n`;
}
