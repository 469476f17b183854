/**
 * Backtest throughput on a whole data directory, inference included: candles per second and the time
 * of each stage, medians over several runs, for the default settings (percent exits, `path`) and for
 * the pessimistic intrabar path with percent and with ATR exits.
 * Usage: npm run bench:backtest [-- dataDir [modelDir [runs]]]  (defaults: the shared data, models/xgb-v1, 3)
 */
import { runBacktest } from '../backtest/run.js';
import { DEFAULT_PARAMS, type TradingParams } from '../core/params.js';
import type { IntrabarMode } from '../core/intrabar.js';

const DATA = process.argv[2] ?? '../shared/data/binance-futures-5m';
const MODEL = process.argv[3] ?? 'models/xgb-v1';
const RUNS = Number(process.argv[4] ?? 3);

const CONFIGS: { name: string; intrabar: IntrabarMode; params: TradingParams }[] = [
  { name: 'percent exits, path', intrabar: 'path', params: DEFAULT_PARAMS },
  { name: 'percent exits, pessimistic', intrabar: 'pessimistic', params: DEFAULT_PARAMS },
  { name: 'atr exits, pessimistic', intrabar: 'pessimistic', params: { ...DEFAULT_PARAMS, exitMode: 'atr' } },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const config of CONFIGS) {
  const totals: number[] = [];
  const stages: Record<string, number[]> = {};
  let candles = 0;
  let symbols = 0;
  let trades = 0;
  for (let r = 0; r < RUNS; r++) {
    const { report } = await runBacktest({ dataDir: DATA, modelDir: MODEL, progress: false, intrabar: [config.intrabar], params: config.params });
    candles = report.candles;
    symbols = report.symbols.length;
    trades = report.strategies.reduce((n, s) => n + s.total.trades, 0);
    totals.push(report.seconds.total);
    for (const [k, v] of Object.entries(report.seconds)) (stages[k] ??= []).push(v);
    console.error(`${config.name}: run ${r + 1}/${RUNS}: ${report.seconds.total.toFixed(1)} s`);
  }
  const t = median(totals);
  console.log(`backtest ${DATA} (${config.name}): ${symbols} symbols, ${candles} candles, model ${MODEL}, 4 strategies, ${trades} trades`);
  console.log(`  median of ${RUNS} runs: ${t.toFixed(1)} s total, ${Math.round(candles / t)} candles/s`);
  console.log(`  stages (median s): ${Object.entries(stages).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(', ')}`);
}
