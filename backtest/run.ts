import { existsSync } from 'node:fs';
import { DEFAULT_PARAMS, type TradingParams } from '../core/params.js';
import type { Candle } from '../core/types.js';
import { DEFAULT_RISK_LIMITS, type RiskLimits } from '../core/risk.js';
import { WARMUP_CANDLES } from '../core/features.js';
import { inferIntervalMs, loadCandlesDir } from '../exchange/klines-file.js';
import { loadModel } from '../ml/model.js';
import { Progress } from '../ml/progress.js';
import { type BacktesterResult, type Market, type Trade, runBacktester } from './backtester.js';
import { type PortfolioStats, type TradeStats, portfolioStats, symbolStats } from './metrics.js';
import { type FeatureMatrix, type SignalTrack, actionableStats, featureMatrix, holdTrack, randomTrack, scoreSymbol, seededRandom, strategyTrack } from './signals.js';
import { type Strategy, isModelScorer } from '../core/strategy.js';
import type { CustomExit } from '../core/position.js';
import momentumStrategy, { MOMENTUM_Z } from '../strategies/momentum.js';

export interface BacktestOptions {
  dataDir: string;
  symbols?: string[];
  from?: number;
  to?: number;
  /**
   * The strategy under test (strategies/<name>.ts) and its parameters. A model strategy scores its
   * model directory unless `modelDir` names another; its exits replace the default ones.
   */
  strategy?: Strategy;
  strategyParams?: Record<string, unknown>;
  /** Model directory (model.onnx + card.json); null, or missing without a model strategy, runs no model. */
  modelDir?: string | null;
  params?: TradingParams;
  limits?: RiskLimits;
  /** Starting capital for returns, Sharpe and drawdown percentages (default: the risk limit on total notional). */
  capital?: number;
  seed?: number;
  progress?: boolean;
  /** onnxruntime threads for the batched scoring. */
  threads?: number;
}

export interface StrategyReport {
  name: string;
  total: PortfolioStats;
  perSymbol: Record<string, TradeStats>;
  riskRejections: Record<string, number>;
  /** Signal parameters of rule baselines (trade rate, confidence used for sizing). */
  note?: string;
}

export interface BacktestReport {
  dataDir: string;
  symbols: string[];
  from: string;
  to: string;
  intervalMs: number;
  candles: number;
  simulatedSteps: number;
  capital: number;
  model: { name: string; dir: string; promotable: boolean } | null;
  strategies: StrategyReport[];
  /** `inference` is only the wait left after the features: scoring overlaps the feature stage. */
  seconds: { load: number; features: number; inference: number; simulation: number; total: number };
}

export interface StrategyCurve {
  name: string;
  times: Float64Array;
  /** Marked-to-market equity change from the starting capital at each simulated step. */
  equity: Float64Array;
  trades: Trade[];
}

export interface BacktestRun {
  report: BacktestReport;
  /** Equity curves and trades per strategy, for charts and the HTML report. */
  curves: StrategyCurve[];
  /** What the run used: the loop and exit parameters, the risk limits, the random baseline's seed. */
  settings: { params: TradingParams; limits: RiskLimits; seed: number };
}

export async function runBacktest(o: BacktestOptions): Promise<BacktestRun> {
  const t0 = performance.now();
  const strategy = o.strategy ?? null;
  const strategyParams = o.strategyParams ?? (strategy ? (strategy.params.parse({}) as Record<string, unknown>) : {});
  const params = o.params ?? { ...DEFAULT_PARAMS, ...strategy?.exits };
  const modelDir = o.modelDir !== undefined ? o.modelDir : strategy && isModelScorer(strategy.scorer) ? strategy.scorer.model : null;
  const customExit: CustomExit | undefined = strategy?.customExit ? (v) => strategy.customExit!(v, strategyParams) : undefined;
  const limits = o.limits ?? DEFAULT_RISK_LIMITS;
  const capital = o.capital ?? limits.maxTotalNotional;
  const showProgress = o.progress ?? true;
  const data = loadCandlesDir(o.dataDir, o.symbols);
  const symbols = [...data.keys()];
  const candles = symbols.map((s) => data.get(s)!.filter((c) => o.to === undefined || c.openTime < o.to));
  const intervalMs = inferIntervalMs(candles.find((cs) => cs.length > 1) ?? []);
  const earliest = Math.min(...candles.map((cs) => cs[0]?.openTime ?? Infinity));
  const from = o.from ?? earliest + WARMUP_CANDLES * intervalMs;
  const to = o.to ?? Math.max(...candles.map((cs) => (cs[cs.length - 1]?.openTime ?? 0) + 1));
  const market: Market = { symbols, candles, intervalMs, from, to };
  /** The candle whose signal acts first: the one before `from`. */
  const startOf = (cs: Candle[]) => Math.max(0, cs.findIndex((c) => c.openTime >= from) - 1);
  const tLoad = performance.now();

  // Features are computed symbol by symbol on this thread while onnxruntime scores the previous
  // symbols on its own threads: the two stages overlap instead of adding up.
  if (modelDir && !existsSync(modelDir)) throw new Error(`--model ${modelDir}: no such directory`);
  const model = modelDir ? await loadModel(modelDir, { threads: o.threads ?? 2 }) : null;
  const fBar = new Progress(model ? 'features+inference' : 'features', symbols.length, showProgress);
  const matrices: FeatureMatrix[] = [];
  let scoring: Promise<unknown> = Promise.resolve();
  const scored: Promise<SignalTrack>[] = [];
  for (let i = 0; i < candles.length; i++) {
    const m = featureMatrix(candles[i]!, intervalMs);
    matrices.push(m);
    if (model) {
      const next = scoring.then(() => scoreSymbol(model, m, startOf(candles[i]!)));
      next.catch(() => undefined); // a failure surfaces from Promise.all below, not as an unhandled rejection
      scoring = next;
      scored.push(next);
    }
    fBar.update(i + 1, symbols[i]);
    await new Promise((r) => setImmediate(r)); // let finished runs hand over to the next symbol
  }
  const tFeat = performance.now();
  const strategies: { name: string; tracks: SignalTrack[]; note?: string; customExit?: CustomExit }[] = [];
  const trackOf = (s: Strategy, i: number, modelTrack?: SignalTrack) =>
    strategyTrack(s, strategyParams, symbols[i]!, candles[i]!, matrices[i]!, intervalMs, startOf(candles[i]!), modelTrack);
  let modelInfo: BacktestReport['model'] = null;
  if (model) {
    const scores = await Promise.all(scored);
    // The strategy's entry rule, when it has one, filters the model's scores.
    const tracks = strategy && isModelScorer(strategy.scorer) && strategy.entry ? scores.map((t, i) => trackOf(strategy, i, t)) : scores;
    strategies.push({ name: `model:${model.name}`, tracks, ...(strategy && isModelScorer(strategy.scorer) ? { customExit } : {}) });
    await model.close();
    modelInfo = { name: model.name, dir: modelDir!, promotable: model.card.promotable === true };
  }
  if (strategy && !isModelScorer(strategy.scorer)) {
    strategies.unshift({ name: `strategy:${strategy.name}`, tracks: matrices.map((_, i) => trackOf(strategy, i)), note: strategy.description, customExit });
  }
  fBar.done();
  const tInf = performance.now();

  // Rule baselines are sized like the model's average trade, and random trades as often as the model.
  const reference = strategies[0] ? actionableStats(strategies[0].tracks, matrices, params.confidenceThreshold) : null;
  const confidence = reference?.meanConfidence ?? params.confidenceThreshold;
  const momentum = matrices.map((m, i) => strategyTrack(momentumStrategy, { z: MOMENTUM_Z, confidence }, symbols[i]!, candles[i]!, m, intervalMs, 0));
  const rate = reference?.rate ?? actionableStats(momentum, matrices, params.confidenceThreshold).rate;
  const rng = seededRandom(o.seed ?? 42);
  strategies.push({ name: 'always-hold', tracks: matrices.map((m) => holdTrack(m.valid.length)) });
  strategies.push({
    name: 'random',
    tracks: matrices.map((m) => randomTrack(m, rate, confidence, rng)),
    note: `random side on ${(rate * 100).toFixed(2)}% of candles (${reference ? `${strategies[0]!.name}'s` : "the momentum rule's"} signal rate), seed ${o.seed ?? 42}`,
  });
  strategies.push({ name: 'momentum', tracks: momentum, note: 'the 12-candle move beyond 1.5 sigma, in its direction' });

  const sBar = new Progress('simulate', strategies.length, showProgress);
  const curves: BacktestRun['curves'] = [];
  const reports: StrategyReport[] = strategies.map((st, i) => {
    const r: BacktesterResult = runBacktester(market, st.tracks, { params, limits, ...(st.customExit ? { customExit: st.customExit } : {}) });
    sBar.update(i + 1, st.name);
    curves.push({ name: st.name, times: r.times, equity: r.equity, trades: r.trades });
    return { name: st.name, total: portfolioStats(r, capital), perSymbol: symbolStats(r, symbols), riskRejections: r.riskRejections, note: st.note };
  });
  sBar.done();
  const tEnd = performance.now();
  const s = (a: number, b: number) => Math.round(b - a) / 1000;
  return {
    report: {
      dataDir: o.dataDir, symbols, from: new Date(from).toISOString(), to: new Date(to).toISOString(), intervalMs,
      candles: candles.reduce((n, cs) => n + cs.length, 0), simulatedSteps: curves[0]?.times.length ?? 0, capital,
      model: modelInfo, strategies: reports,
      seconds: { load: s(t0, tLoad), features: s(tLoad, tFeat), inference: s(tFeat, tInf), simulation: s(tInf, tEnd), total: s(t0, tEnd) },
    },
    curves,
    settings: { params, limits, seed: o.seed ?? 42 },
  };
}
