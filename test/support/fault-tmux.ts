/**
 * Fault injection around the real tmux: small wrapper scripts that pass every call through to
 * the real binary except the one they are built to break. The windows and tags involved are real.
 */
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execaSync } from 'execa';

const realTmux = execaSync('sh', ['-c', 'command -v tmux']).stdout.trim();

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Creates the window for real (tagged), then reports failure: the spawn must roll it back. */
export function tmuxFailingAfterLaunch(dir: string): string {
  return script(
    dir,
    'tmux-fail-after-launch',
    `case " $* " in
  *" new-window "*|*" new-session "*) "${realTmux}" "$@" >/dev/null; echo "injected failure after launch" >&2; exit 1 ;;
esac
exec "${realTmux}" "$@"`,
  );
}

/** A tmux whose `list-panes` hangs: every probe times out. */
export function tmuxHangingProbe(dir: string): string {
  return script(
    dir,
    'tmux-hanging-probe',
    `case " $* " in
  *" list-panes "*) exec sleep 30 ;;
esac
exec "${realTmux}" "$@"`,
  );
}

export interface FaultSwitch {
  /** The wrapper to pass as `tmuxBin`. */
  bin: string;
  /** From now on, every tmux call that runs one of these verbs fails (exit 1, one line on stderr). */
  fail(...verbs: string[]): void;
  /** Every call goes through again. */
  heal(): void;
}

/** A tmux whose faults are switched on and off while the engine using it runs (a file read per call). */
export function tmuxWithFaultSwitch(dir: string): FaultSwitch {
  const flag = join(dir, 'tmux-faults');
  const bin = script(
    dir,
    'tmux-fault-switch',
    `if [ -f "${flag}" ]; then
  for verb in $(cat "${flag}"); do
    case " $* " in
      *" $verb "*) echo "injected failure of $verb" >&2; exit 1 ;;
    esac
  done
fi
exec "${realTmux}" "$@"`,
  );
  return {
    bin,
    fail: (...verbs) => writeFileSync(flag, `${verbs.join('\n')}\n`),
    heal: () => rmSync(flag, { force: true }),
  };
}

export { realTmux };
