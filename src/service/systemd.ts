/** Installing, removing and asking about the unit through `systemctl --user` and `loginctl`. */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { UNIT_NAME } from './unit.js';

/** What `systemctl --user` (or `loginctl`) answered, or why it could not be asked. */
export interface SystemctlAnswer {
  ok: boolean;
  output: string;
}

async function ask(bin: string, args: string[]): Promise<SystemctlAnswer> {
  const result = await execa(bin, args, { reject: false, timeout: 10_000, stdin: 'ignore' });
  const output = `${String(result.stdout ?? '')}\n${String(result.stderr ?? '')}`.trim();
  return { ok: result.exitCode === 0, output: output || (result.failed && result.exitCode === undefined ? String(result.shortMessage) : '') };
}

export function systemctl(...args: string[]): Promise<SystemctlAnswer> {
  return ask('systemctl', ['--user', ...args]);
}

/** Writes the unit (0644, its directory made if needed); returns whether it changed. */
export async function writeUnit(file: string, text: string): Promise<boolean> {
  const before = await readFile(file, 'utf8').catch(() => null);
  if (before === text) return false;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text, { mode: 0o644 });
  return true;
}

export async function removeUnit(file: string): Promise<boolean> {
  const existed = await readFile(file, 'utf8').then(() => true, () => false);
  await rm(file, { force: true });
  return existed;
}

/** What `status` reports. */
export interface ServiceStatus {
  unit: string;
  installed: boolean;
  /** `systemctl --user is-enabled` / `is-active`, or null when systemctl could not be asked. */
  enabled: string | null;
  active: string | null;
  /** Whether the user's manager outlives their last login (`loginctl enable-linger`); null: unknown. */
  linger: boolean | null;
}

export async function serviceStatus(file: string): Promise<ServiceStatus> {
  const installed = await readFile(file, 'utf8').then(() => true, () => false);
  const word = (answer: SystemctlAnswer) => answer.output.split('\n')[0]?.trim() || null;
  const enabled = await systemctl('is-enabled', UNIT_NAME).catch(() => null);
  const active = await systemctl('is-active', UNIT_NAME).catch(() => null);
  const lingerAnswer = await ask('loginctl', ['show-user', userInfo().username, '--property=Linger', '--value']).catch(() => null);
  const linger = lingerAnswer?.ok ? lingerAnswer.output.trim() === 'yes' : null;
  return {
    unit: file,
    installed,
    enabled: enabled && !/Failed to connect|not been booted|No such file/.test(enabled.output) ? word(enabled) : null,
    active: active && !/Failed to connect|not been booted|No such file/.test(active.output) ? word(active) : null,
    linger,
  };
}
