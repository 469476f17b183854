/**
 * `npm run chaos -- [--minutes N] [--symbols N] [--seed S]`: a replay of the real data with the whole
 * stack as separate processes, while workers are SIGKILLed (some with an order in flight), Temporal,
 * Postgres and the exchange restart, the exchange misbehaves and an operator kills and resumes the fleet.
 * Exits 0 when every invariant holds, 1 on any violation, 2 when the run itself could not be carried out.
 * See chaos/README.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { listKlineFiles, readCandleSeries } from '../exchange/klines-file.js';
import { buildPlan, describePlan, type ChaosPlan } from './plan.js';
import { formatSummary, summarize } from './report.js';
import { runChaos } from './run.js';

const DAY_MS = 86_400_000;
/** Replay time left after the run for settling, at replay speed (market time). */
const SETTLE_WALL_MS = 5 * 60_000;

interface CliOptions {
  minutes: number;
  symbols: number;
  seed: number;
  speed: number;
  entryProbability: number;
  data: string;
  recoveryTarget: number;
  dir?: string;
  keep?: boolean;
  planOnly?: boolean;
}

function positive(name: string, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'integer' : 'number'}`);
    return n;
  };
}

function seedOf(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError('--seed must be an integer from 0 to 4294967295');
  return n;
}

function probability(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('--entry-probability must be in (0, 1]');
  return n;
}

/** Market times where a replay of `spanMs` fits the data of every one of `symbols`. */
function replayWindow(dataDir: string, symbols: string[], spanMs: number): { from: number; to: number } {
  const files = listKlineFiles(dataDir);
  let from = -Infinity;
  let to = Infinity;
  for (const symbol of symbols) {
    const series = readCandleSeries(files.get(symbol)!, symbol);
    from = Math.max(from, series.openTime[0]! + DAY_MS);
    to = Math.min(to, series.openTime[series.openTime.length - 1]! - spanMs);
  }
  return { from, to };
}

function makePlan(o: CliOptions): ChaosPlan {
  const available = [...listKlineFiles(o.data).keys()];
  if (available.length === 0) throw new Error(`no kline files (SYMBOL.csv[.gz]) in ${o.data}`);
  const spanMs = (o.minutes * 60_000 + SETTLE_WALL_MS) * o.speed;
  return buildPlan({ seed: o.seed, minutes: o.minutes, symbolCount: o.symbols, available, replayWindowFor: (symbols) => replayWindow(o.data, symbols, spanMs) });
}

async function main(o: CliOptions): Promise<number> {
  const plan = makePlan(o);
  if (o.planOnly) {
    console.log(describePlan(plan).join('\n'));
    return 0;
  }
  const dir = o.dir ? path.resolve(o.dir) : mkdtempSync(path.join(os.tmpdir(), `qt-chaos-s${o.seed}-`));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'plan.txt'), `${describePlan(plan).join('\n')}\n`);
  const started = Date.now();
  const log = (line: string) => console.log(line);
  log(describePlan(plan).slice(0, 2).join('\n'));
  const result = await runChaos({ plan, dir, dataDir: path.resolve(o.data), replaySpeed: o.speed, entryProbability: o.entryProbability, recoveryTargetS: o.recoveryTarget, log });
  const summary = summarize(result);
  writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ ...summary, events: result.events, commands: result.commands }, null, 2));
  console.log(formatSummary(summary, dir));
  console.log(`(${Math.round((Date.now() - started) / 1000)} s; summary in ${path.join(dir, 'summary.json')})`);
  if (summary.violations === 0 && !o.keep && !o.dir) rmSync(dir, { recursive: true, force: true });
  return summary.violations === 0 ? 0 : 1;
}

const program = new Command('chaos')
  .description('chaos run: kill and restart every process of the paper stack under load, then check the invariants')
  .option('--minutes <n>', 'length of the chaos phase', positive('--minutes'), 10)
  .option('--symbols <n>', 'symbols traded (10 or more for a real run)', positive('--symbols', true), 10)
  .option('--seed <n>', 'seed of the schedule, the symbols, the replay start and the signals', seedOf, 1)
  .option('--speed <n>', 'replay speed of the local exchange (market seconds per wall second)', positive('--speed'), 30)
  .option('--entry-probability <p>', 'chance that a scanning loop enters at a tick', probability, 0.5)
  .option('--data <dir>', 'klines directory to replay', '../shared/data/binance-futures-5m')
  .option('--recovery-target <s>', 'seconds within which every loop must tick again after a restart', positive('--recovery-target'), 5)
  .option('--dir <dir>', 'run directory (kept); default a temporary one, removed when the run passes')
  .option('--keep', 'keep the temporary run directory even when the run passes')
  .option('--plan-only', 'print the schedule this seed gives and exit')
  .exitOverride();

try {
  program.parse(process.argv);
  process.exitCode = await main(program.opts<CliOptions>());
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  console.error(`chaos run failed: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.QT_DEBUG) console.error(err);
  process.exitCode = 2;
}
// Timers of the Temporal client or a stuck child must not keep a finished run alive.
setTimeout(() => process.exit(), 1_000).unref();
