/** `warden doctor [--repair]`: the health report; exit 0 when healthy, 1 when it found problems. */
import { runDoctor, type DoctorReport, type FileHealth } from '../doctor.js';
import { engineOptions, printJson, type RegisterVerb } from './shared.js';

function describeFile(label: string, file: FileHealth): string {
  const what =
    file.status === 'valid' ? `valid, ${file.sessions} session(s)` : file.status === 'absent' ? 'absent' : 'INVALID';
  return `${label.padEnd(12)}${file.path}: ${what}`;
}

function printReport(report: DoctorReport): void {
  const lines: string[] = [];
  if (report.repaired) {
    const kept = report.repaired.keptAs ? `; the bad file was kept as ${report.repaired.keptAs}` : '';
    lines.push(`repaired    restored ${report.repaired.restoredFrom} (${report.repaired.sessions} session(s))${kept}`);
  }
  const t = report.tmux;
  lines.push(`${'tmux'.padEnd(12)}${t.found ? (t.version ?? 'no answer') : 'not found'}${t.found && t.version && !t.supported ? ' (too old)' : ''}`);
  lines.push(describeFile('state file', report.stateFile));
  lines.push(describeFile('backup', report.backup));
  const l = report.lock;
  const by = l.holderPid === null ? 'by no named process' : `by process ${l.holderPid}`;
  const heldFor = l.ageMs === null ? '' : ` for ${l.ageMs} ms`;
  lines.push(`${'lock'.padEnd(12)}${l.held ? `held ${by}${heldFor}${l.stale ? ' (gone: the next write takes it over)' : ''}` : 'free'}`);
  if (report.unfinished.length > 0) lines.push(`${'unfinished'.padEnd(12)}${report.unfinished.join(', ')} (the next 'warden ls' finishes them)`);
  if (report.problems.length === 0) {
    lines.push('healthy');
  } else {
    lines.push(`${report.problems.length} problem(s):`);
    for (const problem of report.problems) lines.push(`  - ${problem}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export const registerDoctor: RegisterVerb = (program, globals) => {
  program
    .command('doctor')
    .description('check tmux, the state file and its .bak, the lock, orphans and untracked windows (exit 1 on problems)')
    .option('--repair', 'restore the last good state.json.bak over an invalid or missing state file')
    .addHelpText('after', '\nExit status: 0 healthy, 1 problems found (or the repair was refused).\n\nExample:\n  warden doctor --json')
    .action(async (opts: { repair?: boolean }) => {
      const g = globals();
      const { stateFile, socket } = engineOptions(g);
      const report = await runDoctor({ stateFile, socket, repair: opts.repair === true });
      if (g.json) printJson(report);
      else printReport(report);
      if (!report.healthy) process.exitCode = 1;
    });
};
