/**
 * How much of a session's output is kept: the size cap and rotation of a running session's log,
 * and the retention of ended sessions' logs. One zod schema, so the config file, the engine's
 * options and the JSON Schema say the same thing.
 */
import { z } from 'zod';
import { InvalidInputError } from './errors.js';
import { formatIssue } from './issues.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
};

/** `10MiB`, `512k`, `1G` or a plain number of bytes; binary units either way. Null when unreadable. */
export function parseByteSize(value: string | number): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) return null;
  const bytes = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

const ByteSizeSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = parseByteSize(value);
  if (bytes === null) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a size: write e.g. 10MiB, 512KiB or a number of bytes` });
    return z.NEVER;
  }
  return bytes;
});

export const LogSettingsSchema = z
  .object({
    /** Keep a log of each session's output at all. */
    enabled: z.boolean().default(true),
    /** A log file is rotated when it reaches this size. */
    maxFileSize: ByteSizeSchema.pipe(z.number().int().min(4096)).default(10 * 1024 ** 2),
    /** Files kept per session, the one being written included: 2 keeps the log and `.1`. */
    maxFiles: z.number().int().min(1).max(100).default(2),
    /** Ended sessions' logs older than this many days are removed; 0 keeps them forever. */
    retainDays: z.number().min(0).default(30),
    /** Ended sessions' logs beyond this total size are removed, oldest first; 0 means no limit. */
    retainTotalSize: ByteSizeSchema.pipe(z.number().int().min(0)).default(1024 ** 3),
  })
  .strict();

/** The settings as written (sizes may be strings). */
export type LogSettingsInput = z.input<typeof LogSettingsSchema>;
/** The settings in force (sizes in bytes, every default filled in). */
export type LogSettings = z.output<typeof LogSettingsSchema>;

export const DEFAULT_LOG_SETTINGS: LogSettings = LogSettingsSchema.parse({});

/**
 * `WARDEN_LOGS`: `off`, or comma-separated `NAME=VALUE` settings (`maxFileSize=50MiB,maxFiles=3`).
 * @throws InvalidInputError naming the setting and what it takes.
 */
export function parseLogSettingsText(text: string): LogSettings {
  const raw: Record<string, unknown> = {};
  if (/^\s*(off|false|0)\s*$/i.test(text)) raw.enabled = false;
  else {
    for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
      const at = pair.indexOf('=');
      const name = at > 0 ? pair.slice(0, at).trim() : pair;
      const value = at > 0 ? pair.slice(at + 1).trim() : '';
      if (at <= 0) throw new InvalidInputError(`WARDEN_LOGS ${JSON.stringify(pair)} is not NAME=VALUE: write e.g. WARDEN_LOGS=maxFileSize=50MiB,maxFiles=3 (or off)`);
      raw[name] = name === 'enabled' ? /^(true|on|1)$/i.test(value) : /^(maxFiles|retainDays)$/.test(name) ? Number(value) : value;
    }
  }
  const parsed = LogSettingsSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(formatIssue(parsed.error, { subject: 'WARDEN_LOGS' }));
  return parsed.data;
}
