import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { buildDataset, writeDataset } from '../../ml/dataset.js';
import { type BacktestOptions, prepareBacktest, runBacktest } from '../../backtest/run.js';
import type { RiskLimits } from '../../core/risk.js';
import { formatReport, formatSettings, reportJson } from '../../backtest/report.js';
import { type SweepAxis, formatSweep, runSweep } from '../../backtest/sweep.js';
import { writeChartSvg } from '../../backtest/chart.js';
import { writeHtmlReport } from '../../backtest/html-report.js';
import { applyParamChanges, type TradingParams } from '../../core/params.js';
import type { AppConfig } from '../../core/config.js';
import type { IntrabarMode } from '../../core/intrabar.js';
import { isModelScorer } from '../../core/strategy.js';
import { pythonPath } from '../../ml/python.js';
import { DEFAULT_STRATEGY, loadStrategy, strategyParams, withStrategyExits } from '../../strategies/index.js';
import { type ParamAssignments, intrabarModes, nonNegativeInteger, paramAssignment, positiveInteger, positiveNumber, sweepAxis, symbolList, time } from '../arguments.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export { pythonPath };

/** Run models/training/train.py with the given arguments, streaming its output; resolves with its exit code. */
export function runTraining(args: string[]): Promise<number> {
  return new Promise((res, rej) => {
    const child = spawn(pythonPath(), [join(ROOT, 'models', 'training', 'train.py'), ...args], { stdio: 'inherit' });
    child.on('error', rej);
    child.on('exit', (code) => res(code ?? 1));
  });
}

/** Run a command action; a failure prints one line (file and line for bad data) instead of a stack. */
function action<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      console.error(`qt: ${(e as Error).message}`);
      process.exitCode = 1;
    }
  };
}

export function registerMlCommands(program: Command, config: () => AppConfig): void {
  const dataset = program.command('dataset').description('training datasets built by the feature and label pipeline');
  dataset
    .command('build')
    .description('features + triple-barrier labels for every symbol of a klines directory')
    .requiredOption('--data <dir>', 'directory of SYMBOL.csv[.gz] klines')
    .option('--symbols <list>', 'comma-separated symbols (default: every file)', symbolList)
    .option('--from <time>', 'first row (ISO date or epoch ms); earlier candles are warm-up only', time)
    .option('--to <time>', 'end (exclusive); labels never look past it', time)
    .requiredOption('--out <file>', 'output sidecar path, e.g. data/ds.json (matrices are written next to it)')
    .option('--strategy <name>', "labels follow this strategy's exits (default QT_STRATEGY, else xgb)")
    .option('--intrabar <path>', 'how a trade walks each candle: path (by colour) or pessimistic (the adverse extreme first)', intrabarMode, 'path')
    .action(action(async (o: { data: string; symbols?: string[]; from?: number; to?: number; out: string; strategy?: string; intrabar: IntrabarMode }) => {
      const strategy = await loadStrategy(o.strategy ?? process.env.QT_STRATEGY?.trim() ?? DEFAULT_STRATEGY, o.strategy ? '--strategy' : 'QT_STRATEGY');
      const opts = {
        intrabar: o.intrabar,
        // Labels follow the exits the agent would trade: QT_ variables (QT_EXIT_MODE, ...), else the strategy's.
        params: withStrategyExits(config().params, strategy, process.env),
        dataDir: o.data,
        symbols: o.symbols,
        from: o.from,
        to: o.to,
      };
      const ds = buildDataset(opts);
      const paths = writeDataset(ds, o.out, opts);
      console.log(`dataset: ${ds.rows} rows x ${ds.symbols.length} symbols -> ${paths.json}`);
    }));

  program
    .command('train')
    .description('walk-forward XGBoost training, baselines, calibration and ONNX export (Python, project venv)')
    .requiredOption('--dataset <file>', 'dataset sidecar written by `qt dataset build`')
    .requiredOption('--out <dir>', 'model directory, e.g. models/xgb-v2')
    .option('--folds <n>', 'walk-forward test folds', positiveInteger, 4)
    .option('--trees <n>', 'boosting rounds', positiveInteger, 40)
    .option('--eta <x>', 'learning rate', positiveNumber, 0.15)
    .option('--depth <n>', 'tree depth', positiveInteger, 4)
    .option('--max-rows <n>', 'cap on training rows per fold (random subsample, seeded)', positiveInteger, 150000)
    .option('--threads <n>', 'XGBoost threads', positiveInteger, 2)
    .option('--seed <n>', 'random seed', nonNegativeInteger, 42)
    .option('--shuffle-labels', 'control run: train on permuted labels (must fall to chance)')
    .action(action(async (o: Record<string, string | number | boolean | undefined>) => {
      const args = ['--dataset', String(o.dataset), '--out', String(o.out), '--folds', String(o.folds), '--trees', String(o.trees), '--eta', String(o.eta), '--depth', String(o.depth),
        '--max-rows', String(o.maxRows), '--threads', String(o.threads), '--seed', String(o.seed)];
      if (o.shuffleLabels) args.push('--shuffle-labels');
      const code = await runTraining(args);
      if (code !== 0) process.exitCode = code;
    }));

  program
    .command('backtest')
    .description('replay klines through the same decision, sizing, risk and exit code as the workflows, with baselines')
    .requiredOption('--data <dir>', 'directory of SYMBOL.csv[.gz] klines')
    .option('--symbols <list>', 'comma-separated symbols (default: every file)', symbolList)
    .option('--from <time>', 'start (ISO date or epoch ms); earlier candles are warm-up only', time)
    .option('--to <time>', 'end (exclusive)', time)
    .option('--strategy <name>', 'strategy under test, a file of strategies/ (default QT_STRATEGY, else xgb)')
    .option('--model <dir>', "model directory (default: the model strategy's own)")
    .option('--no-model', 'baselines only')
    .option('--set <KEY=VALUE>', 'a trading parameter for this run, as `qt config set` takes it (repeatable; wins over QT_ variables)', paramAssignment, {})
    .option('--sweep <KEY=v1,v2,...>', 'a parameter grid: one row per combination, baselines on the same settings (repeatable)', sweepAxis, [])
    .addOption(new Option('--intrabar <path>', 'path (by candle colour), pessimistic (the adverse extreme first), or both').argParser(intrabarModes).default(['path', 'pessimistic'], 'both'))
    .option('--capital <n>', 'starting capital for returns and drawdown (default: the total-notional risk limit)', positiveNumber)
    .option('--seed <n>', 'seed of the random baseline', nonNegativeInteger, 42)
    .option('--json', 'print the full report as JSON')
    .option('--report <file>', 'write a self-contained HTML report: equity and drawdown charts, per-symbol table, trades, parameters')
    .option('--plot <file>', 'write the equity and drawdown chart as SVG')
    .action(action(async (o: BacktestCliOptions) => {
      // Refuse a bad output name before minutes of backtesting, not after.
      if (o.plot && !o.plot.toLowerCase().endsWith('.svg')) throw new Error(`--plot ${o.plot}: only .svg is written (PNG was dropped; use --report FILE.html for the interactive report)`);
      if (o.report && !/\.html?$/i.test(o.report)) throw new Error(`--report ${o.report}: the report is HTML, name it FILE.html`);
      if (o.sweep.length && (o.plot || o.report)) throw new Error('--sweep prints a grid; --plot and --report chart a single run');
      const strategy = await loadStrategy(o.strategy ?? process.env.QT_STRATEGY?.trim() ?? DEFAULT_STRATEGY, o.strategy ? '--strategy' : 'QT_STRATEGY');
      const modelDir = o.model === false ? null : o.model !== undefined ? o.model : isModelScorer(strategy.scorer) ? join(ROOT, strategy.scorer.model) : undefined;
      // The agent's own configuration (QT_ variables, risk limits), the strategy's exits, then --set.
      const cfg = config();
      const params = applyParamChanges(withStrategyExits(cfg.params, strategy, process.env), o.set);
      const base = {
        dataDir: o.data, symbols: o.symbols, modelDir, strategy, strategyParams: strategyParams(strategy, process.env),
        params, limits: cfg.risk, from: o.from, to: o.to, capital: o.capital, seed: o.seed, intrabar: o.intrabar,
      };
      if (o.sweep.length) return sweep(base, o.sweep, !!o.json);
      const run = await runBacktest(base);
      if (o.plot) writeChartSvg(o.plot, run.curves, run.report.capital, `Backtest ${run.report.from.slice(0, 10)} .. ${run.report.to.slice(0, 10)}, ${run.report.symbols.length} symbols`);
      if (o.report) writeHtmlReport(o.report, run);
      console.log(o.json ? reportJson(run.report) : formatReport(run.report));
      if (!o.json) for (const [what, file] of [['Chart', o.plot], ['Report', o.report]] as const) if (file) console.log(`${what} written to ${file}`);
    }));
}

interface BacktestCliOptions {
  data: string;
  symbols?: string[];
  from?: number;
  to?: number;
  strategy?: string;
  model?: string | false;
  set: ParamAssignments;
  sweep: SweepAxis[];
  intrabar: IntrabarMode[];
  capital?: number;
  seed: number;
  json?: boolean;
  plot?: string;
  report?: string;
}

/** `qt backtest --sweep`: features and scores once, then one simulation per combination and path. */
async function sweep(base: BacktestOptions & { params: TradingParams; limits: RiskLimits; seed: number; intrabar: IntrabarMode[] }, axes: SweepAxis[], json: boolean): Promise<void> {
  const prepared = await prepareBacktest(base);
  const capital = base.capital ?? base.limits.maxTotalNotional;
  const rows = runSweep(prepared, axes, { params: base.params, limits: base.limits, intrabar: base.intrabar, capital, seed: base.seed }, (_row, i, total) => {
    if (!json) process.stderr.write(`\rsweep ${i}/${total}`);
  });
  if (!json) process.stderr.write('\n');
  const settings = { params: base.params, strategy: prepared.strategy?.name ?? null, strategyParams: prepared.strategyParams, limits: base.limits, intrabar: base.intrabar, seed: base.seed };
  if (json) {
    console.log(JSON.stringify({ settings, axes, rows: rows.map((r) => ({ values: r.values, intrabar: r.intrabar, tested: r.tested, baselines: r.baselines })) }, null, 2));
    return;
  }
  console.log(`Backtest ${base.dataDir}: ${prepared.symbols.length} symbols, ${new Date(prepared.market.from).toISOString()} .. ${new Date(prepared.market.to).toISOString()}, capital ${capital}`);
  console.log(formatSweep(rows, axes));
  console.log('');
  console.log(`Swept: ${axes.map((a) => `${a.env}=${a.values.join(',')}`).join(' ')}; every other parameter as below.`);
  console.log(formatSettings(settings).join('\n'));
}

/** `qt dataset build --intrabar`: one path (labels are one set). */
function intrabarMode(value: string): IntrabarMode {
  const modes = intrabarModes(value);
  if (modes.length !== 1) throw new InvalidArgumentError('must be path or pessimistic (a dataset has one set of labels).');
  return modes[0]!;
}
