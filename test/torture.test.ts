/**
 * Crash anywhere (invariant 4) under fire: CLI processes SIGKILLed, or paused (SIGSTOP) and then
 * resumed or killed, at random moments (a pause also right before a rename) while they
 * spawn, resume, restart and end sessions; after every round one `warden ls` converges. A modest
 * run here; `npm run torture` runs 100+ kills and prints the figures. The seed is printed and can
 * be replayed with TORTURE_SEED.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { torture } from './support/torture.js';
import { useTmuxServer } from './support/tmux-server.js';

const server = useTmuxServer('torture');
const env = process.env;
const seed = env.TORTURE_SEED ? Number(env.TORTURE_SEED) : Math.floor(Math.random() * 2 ** 31);
const long = env.TORTURE_KILLS !== undefined;

describe('invariant 4: crash anywhere is recoverable (torture)', () => {
  it(
    long
      ? `survives ${env.TORTURE_KILLS}+ SIGKILLs and pauses with nothing lost (seed ${seed})`
      : `survives random SIGKILLs and SIGSTOPs of spawn / resume / fresh / end, converging after each round (seed ${seed})`,
    async () => {
      console.log(`torture seed ${seed} (replay with TORTURE_SEED=${seed})`);
      const figures = await torture({
        target: { state: server.stateFile(), socket: server.socket },
        seed,
        ...(long ? { minKills: Number(env.TORTURE_KILLS) } : { rounds: Number(env.TORTURE_ROUNDS ?? 10) }),
        parallel: Number(env.TORTURE_PARALLEL ?? (long ? 8 : 6)),
        keys: 10,
        maxDelayMs: Number(env.TORTURE_MAX_DELAY_MS ?? 1200),
        maxPauseMs: Number(env.TORTURE_MAX_PAUSE_MS ?? (long ? 3000 : 1000)),
        log: long ? (line) => console.log(line) : undefined,
      });
      const summary = { ...figures, violations: figures.violations.length };
      console.log(`torture figures ${JSON.stringify(summary)}`);
      if (env.TORTURE_FIGURES) writeFileSync(env.TORTURE_FIGURES, `${JSON.stringify(figures, null, 2)}\n`);
      expect(figures.violations, `seed ${seed}`).toEqual([]);
      expect(figures.recordsLost).toBe(0);
      // The run must really have killed processes in the middle of their work.
      expect(figures.kills).toBeGreaterThan(0);
      expect(figures.pauses).toBeGreaterThan(0);
      if (long) expect(figures.leftInFlight).toBeGreaterThan(0);
    },
    long ? 3_600_000 : 120_000,
  );
});
