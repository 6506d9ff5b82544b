/** `warden service install|uninstall|status`: a systemd user unit that runs `warden watch`. */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { WardenError } from '../model/errors.js';
import { UNIT_NAME, unitPath, unitText } from '../service/unit.js';
import { removeUnit, serviceStatus, systemctl, writeUnit, type ServiceStatus } from '../service/systemd.js';
import { defaultStatePath } from '../store.js';
import { examples, printJson, type GlobalOptions, type RegisterVerb } from './shared.js';

const LINGER_NOTE =
  "linger is off: systemd stops your services (and the tmux server they started) at your last logout; 'loginctl enable-linger' keeps them running";

/** The unit for this warden: the same node, script, state file, socket and config as this call. */
function unitFor(globals: GlobalOptions): string {
  const config = globals.config ?? process.env.WARDEN_CONFIG;
  return unitText({
    node: process.execPath,
    script: realpathSync(process.argv[1]!),
    stateFile: path.resolve(globals.state ?? process.env.WARDEN_STATE ?? defaultStatePath()),
    socket: globals.socket ?? process.env.WARDEN_TMUX_SOCKET ?? undefined,
    config: config ? path.resolve(config) : undefined,
  });
}

function statusLines(status: ServiceStatus): string {
  const lines = [
    `unit      ${status.unit}${status.installed ? '' : ' (not installed)'}`,
    `enabled   ${status.enabled ?? 'unknown (systemctl --user could not be asked)'}`,
    `active    ${status.active ?? 'unknown (systemctl --user could not be asked)'}`,
    `linger    ${status.linger === null ? 'unknown' : status.linger ? 'yes' : 'no'}`,
  ];
  if (status.linger === false) lines.push(`note      ${LINGER_NOTE}`);
  return `${lines.join('\n')}\n`;
}

export const registerService: RegisterVerb = (program, globals) => {
  const service = program
    .command('service')
    .description('a systemd user unit that runs `warden watch`, so exits are seen and restarts made with nobody logged in')
    .addHelpText('after', examples('warden service install', 'warden service status --json', 'warden service uninstall'));

  service
    .command('install')
    .description(`write ${UNIT_NAME} under ~/.config/systemd/user, then enable and start it`)
    .option('--no-enable', 'only write the unit file')
    .action(async (opts: { enable: boolean }) => {
      const g = globals();
      const file = unitPath();
      const changed = await writeUnit(file, unitFor(g));
      let enabled = false;
      if (opts.enable) {
        const reload = await systemctl('daemon-reload');
        const start = reload.ok ? await systemctl('enable', '--now', UNIT_NAME) : reload;
        if (!start.ok) {
          throw new WardenError(
            'SERVICE_FAILED',
            `wrote ${file}, but systemctl --user failed (${start.output.split('\n')[0] || 'no answer'}): run 'systemctl --user daemon-reload && systemctl --user enable --now ${UNIT_NAME}' in your login session`,
          );
        }
        enabled = true;
      }
      const status = opts.enable ? await serviceStatus(file) : null;
      if (g.json) printJson({ unit: file, changed, enabled, status });
      else {
        process.stdout.write(`${changed ? 'wrote' : 'unchanged'} ${file}\n`);
        if (enabled) process.stdout.write(`enabled and started ${UNIT_NAME}\n`);
        else process.stdout.write(`enable it with: systemctl --user daemon-reload && systemctl --user enable --now ${UNIT_NAME}\n`);
        if (status?.linger === false) process.stdout.write(`note: ${LINGER_NOTE}\n`);
      }
    });

  service
    .command('uninstall')
    .description(`stop and disable ${UNIT_NAME}, and remove its file`)
    .action(async () => {
      const g = globals();
      const file = unitPath();
      // Not running under systemd (a container, no user manager): the file is still removed.
      await systemctl('disable', '--now', UNIT_NAME).catch(() => undefined);
      const removed = await removeUnit(file);
      await systemctl('daemon-reload').catch(() => undefined);
      if (g.json) printJson({ unit: file, removed });
      else process.stdout.write(removed ? `removed ${file}\n` : `no ${file}: nothing to remove\n`);
    });

  service
    .command('status')
    .description(`whether ${UNIT_NAME} is installed, enabled and running, and whether linger is on`)
    .action(async () => {
      const g = globals();
      const status = await serviceStatus(unitPath());
      if (g.json) printJson(status);
      else process.stdout.write(statusLines(status));
    });
};
