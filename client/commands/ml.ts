import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { buildDataset, writeDataset } from '../../ml/dataset.js';
import { runBacktest } from '../../backtest/run.js';
import { formatReport, reportJson } from '../../backtest/report.js';
import { writeChartSvg } from '../../backtest/chart.js';
import { writeHtmlReport } from '../../backtest/html-report.js';
import { DEFAULT_PARAMS } from '../../core/params.js';
import { isModelScorer } from '../../core/strategy.js';
import { pythonPath } from '../../ml/python.js';
import { DEFAULT_STRATEGY, loadStrategy, strategyParams, withStrategyExits } from '../../strategies/index.js';
import { nonNegativeInteger, positiveInteger, positiveNumber, symbolList, time } from '../arguments.js';

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

export function registerMlCommands(program: Command): void {
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
    .action(action(async (o: { data: string; symbols?: string[]; from?: number; to?: number; out: string; strategy?: string }) => {
      const strategy = await loadStrategy(o.strategy ?? process.env.QT_STRATEGY?.trim() ?? DEFAULT_STRATEGY, o.strategy ? '--strategy' : 'QT_STRATEGY');
      const opts = {
        params: withStrategyExits(DEFAULT_PARAMS, strategy, process.env),
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
    .option('--capital <n>', 'starting capital for returns and drawdown (default: the total-notional risk limit)', positiveNumber)
    .option('--seed <n>', 'seed of the random baseline', nonNegativeInteger, 42)
    .option('--json', 'print the full report as JSON')
    .option('--report <file>', 'write a self-contained HTML report: equity and drawdown charts, per-symbol table, trades, parameters')
    .option('--plot <file>', 'write the equity and drawdown chart as SVG')
    .action(action(async (o: { data: string; symbols?: string[]; from?: number; to?: number; strategy?: string; model?: string | false; capital?: number; seed: number; json?: boolean; plot?: string; report?: string }) => {
      // Refuse a bad output name before minutes of backtesting, not after.
      if (o.plot && !o.plot.toLowerCase().endsWith('.svg')) throw new Error(`--plot ${o.plot}: only .svg is written (PNG was dropped; use --report FILE.html for the interactive report)`);
      if (o.report && !/\.html?$/i.test(o.report)) throw new Error(`--report ${o.report}: the report is HTML, name it FILE.html`);
      const strategy = await loadStrategy(o.strategy ?? process.env.QT_STRATEGY?.trim() ?? DEFAULT_STRATEGY, o.strategy ? '--strategy' : 'QT_STRATEGY');
      const modelDir = o.model === false ? null : o.model !== undefined ? o.model : isModelScorer(strategy.scorer) ? join(ROOT, strategy.scorer.model) : undefined;
      const run = await runBacktest({
        dataDir: o.data, symbols: o.symbols, modelDir, strategy, strategyParams: strategyParams(strategy, process.env),
        params: withStrategyExits(DEFAULT_PARAMS, strategy, process.env),
        from: o.from,
        to: o.to,
        capital: o.capital, seed: o.seed,
      });
      if (o.plot) writeChartSvg(o.plot, run.curves, run.report.capital, `Backtest ${run.report.from.slice(0, 10)} .. ${run.report.to.slice(0, 10)}, ${run.report.symbols.length} symbols`);
      if (o.report) writeHtmlReport(o.report, run);
      console.log(o.json ? reportJson(run.report) : formatReport(run.report));
      if (!o.json) for (const [what, file] of [['Chart', o.plot], ['Report', o.report]] as const) if (file) console.log(`${what} written to ${file}`);
    }));
}
