/**
 * The systemd user unit that keeps `warden watch` running: it reconciles continuously, so exits
 * are seen, restart policies applied when due, and hooks delivered, with nobody at a terminal.
 */
import { homedir } from 'node:os';
import path from 'node:path';

/** The unit's name, as `systemctl --user` knows it. */
export const UNIT_NAME = 'tmux-warden.service';

/** What the unit runs `warden watch` with. */
export interface UnitOptions {
  /** The node binary and the warden script (absolute paths). */
  node: string;
  script: string;
  stateFile: string;
  /** A tmux socket name (`-L`), when warden runs on its own server. */
  socket?: string | undefined;
  /** The config file, when one was named. */
  config?: string | undefined;
}

/** `$XDG_CONFIG_HOME/systemd/user/tmux-warden.service` (else under `~/.config`). */
export function unitPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(homedir(), '.config');
  return path.join(base, 'systemd', 'user', UNIT_NAME);
}

/** One word of a systemd command line: quoted, with `%` and `$` kept literal. */
export function systemdWord(word: string): string {
  const literal = word.replaceAll('%', '%%').replaceAll('$', '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(literal) ? literal : `"${literal.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** The unit file's text. */
export function unitText(options: UnitOptions): string {
  const argv = [options.node, options.script, '--state', options.stateFile];
  if (options.socket) argv.push('--socket', options.socket);
  if (options.config) argv.push('--config', options.config);
  argv.push('watch');
  return [
    '# Written by `warden service install`; `warden service uninstall` removes it.',
    '[Unit]',
    'Description=tmux-warden: reconcile warden sessions with tmux (warden watch)',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${argv.map(systemdWord).join(' ')}`,
    'Restart=on-failure',
    'RestartSec=2',
    // watch stops on SIGTERM after closing its engine: pending writes land first.
    'KillMode=mixed',
    'TimeoutStopSec=20',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}
