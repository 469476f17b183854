/**
 * `npm run chaos:mutation -- [--minutes N] [--seed S] [--symbols N] [--keep]`: shows that the chaos run
 * can fail. It copies the tracked source to a temporary directory, removes there the client-id lookups
 * that make a resend safe (chaos/mutant.ts: the order activities look an order up by its own client id
 * before it leaves, so a retry finds it instead of sending it again), runs the chaos run on that copy and
 * passes only when that run fails with a duplicate order. The project itself has no switch that
 * turns idempotency off: the mutation exists only in the throw-away copy.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { mutate } from './mutant.js';
import type { ChaosSummary } from './report.js';
import { REPO_ROOT } from './stack.js';

const DUPLICATE_INVARIANT = 'duplicate orders per decision';

function copySource(to: string): void {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    const from = path.join(REPO_ROOT, file);
    if (!existsSync(from)) continue;
    mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    copyFileSync(from, path.join(to, file));
  }
  // Installed dependencies and the venv (the temporal CLI) are shared, not copied.
  for (const dir of ['node_modules', '.venv']) if (existsSync(path.join(REPO_ROOT, dir))) symlinkSync(path.join(REPO_ROOT, dir), path.join(to, dir));
}

interface Options {
  minutes: string;
  seed: string;
  symbols: string;
  data: string;
  keep?: boolean;
}

async function main(o: Options): Promise<number> {
  const copy = mkdtempSync(path.join(os.tmpdir(), 'qt-mutant-'));
  const runDir = path.join(copy, '.chaos-run');
  try {
    copySource(copy);
    const applied = mutate(
      (file) => (existsSync(path.join(copy, file)) ? readFileSync(path.join(copy, file), 'utf8') : null),
      (file, text) => writeFileSync(path.join(copy, file), text),
    );
    console.log(`mutant in ${copy}: client-id lookups before the send removed in ${applied.join('; ')}; running the chaos run on it`);
    const args = ['--import', 'tsx', 'chaos/main.ts', '--minutes', o.minutes, '--seed', o.seed, '--symbols', o.symbols, '--data', path.resolve(o.data), '--dir', runDir];
    const code = await new Promise<number | null>((resolve) => spawn(process.execPath, args, { cwd: copy, stdio: 'inherit' }).on('exit', resolve));
    const summaryFile = path.join(runDir, 'summary.json');
    if (!existsSync(summaryFile)) {
      console.error(`mutation check inconclusive: the chaos run on the mutant ended (exit ${code}) without a summary`);
      return 2;
    }
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as ChaosSummary;
    const duplicates = summary.invariants.find((i) => i.name === DUPLICATE_INVARIANT)?.count ?? 0;
    if (duplicates === 0 && summary.events.workerKillsWithOrderInFlight === 0) {
      console.error('\nmutation check inconclusive: no worker kill caught an order in flight (did the loops stop trading? see the failed workflows above)');
      return 2;
    }
    if (code !== 0 && duplicates > 0) {
      console.log(`\nmutation caught: the chaos run failed with ${duplicates} duplicate order(s) per decision, as it must when resends are blind`);
      return 0;
    }
    console.error(`\nmutation NOT caught: exit ${code}, ${duplicates} duplicate order(s) found; the chaos run cannot see blind resends`);
    return 1;
  } finally {
    if (!o.keep) rmSync(copy, { recursive: true, force: true });
  }
}

const program = new Command('chaos:mutation')
  .description('break order idempotency in a throw-away copy and check that the chaos run catches it')
  .option('--minutes <n>', 'length of the chaos run on the mutant', '3')
  .option('--seed <n>', 'seed', '1')
  .option('--symbols <n>', 'symbols', '10')
  .option('--data <dir>', 'klines directory', '../shared/data/binance-futures-5m')
  .option('--keep', 'keep the mutant copy and its run directory');

program.parse(process.argv);
process.exitCode = await main(program.opts<Options>());
