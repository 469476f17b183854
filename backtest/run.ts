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
import { ATR_NORM_COLUMN, FEATURE_NAMES } from '../core/features.js';
import type { IntrabarMode } from '../core/intrabar.js';
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
  /** The intrabar paths to simulate (core/intrabar.ts), each a full set of strategies; default `path` only. */
  intrabar?: IntrabarMode[];
}

export interface StrategyReport {
  name: string;
  /** The path positions walked through each candle. */
  intrabar: IntrabarMode;
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
  /** Every strategy under the first intrabar path, then again under the next one (names suffixed). */
  strategies: StrategyReport[];
  /** Everything the run used: loop, entry and exit parameters, the strategy's own, risk limits, paths, seed. */
  settings: BacktestSettings;
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

export interface BacktestSettings {
  params: TradingParams;
  strategy: string | null;
  strategyParams: Record<string, unknown>;
  limits: RiskLimits;
  intrabar: IntrabarMode[];
  seed: number;
}

export interface BacktestRun {
  report: BacktestReport;
  /** Equity curves and trades per strategy, for charts and the HTML report. */
  curves: StrategyCurve[];
  /** What the run used (as in the report). */
  settings: BacktestSettings;
}

/** Data, features and scores of a backtest: computed once, then simulated under any number of settings. */
export interface PreparedBacktest {
  dataDir: string;
  symbols: string[];
  market: Market;
  matrices: FeatureMatrix[];
  /** The strategy under test (model and / or rule), scored once: parameters only change how it is traded. */
  tested: { name: string; tracks: SignalTrack[]; note?: string; customExit?: CustomExit }[];
  model: BacktestReport['model'];
  strategy: Strategy | null;
  strategyParams: Record<string, unknown>;
  candleCount: number;
  /** Seconds: load, features, inference. */
  seconds: { load: number; features: number; inference: number };
}

const seconds = (a: number, b: number) => Math.round(b - a) / 1000;

export async function prepareBacktest(o: BacktestOptions): Promise<PreparedBacktest> {
  const t0 = performance.now();
  const strategy = o.strategy ?? null;
  const strategyParams = o.strategyParams ?? (strategy ? (strategy.params.parse({}) as Record<string, unknown>) : {});
  const modelDir = o.modelDir !== undefined ? o.modelDir : strategy && isModelScorer(strategy.scorer) ? strategy.scorer.model : null;
  const customExit: CustomExit | undefined = strategy?.customExit ? (v) => strategy.customExit!(v, strategyParams) : undefined;
  const showProgress = o.progress ?? true;
  const data = loadCandlesDir(o.dataDir, o.symbols);
  const symbols = [...data.keys()];
  const candles = symbols.map((s) => data.get(s)!.filter((c) => o.to === undefined || c.openTime < o.to));
  const intervalMs = inferIntervalMs(candles.find((cs) => cs.length > 1) ?? []);
  const earliest = Math.min(...candles.map((cs) => cs[0]?.openTime ?? Infinity));
  const from = o.from ?? earliest + WARMUP_CANDLES * intervalMs;
  const to = o.to ?? Math.max(...candles.map((cs) => (cs[cs.length - 1]?.openTime ?? 0) + 1));
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
  const tested: PreparedBacktest['tested'] = [];
  const trackOf = (s: Strategy, i: number, modelTrack?: SignalTrack) =>
    strategyTrack(s, strategyParams, symbols[i]!, candles[i]!, matrices[i]!, intervalMs, startOf(candles[i]!), modelTrack);
  let modelInfo: BacktestReport['model'] = null;
  if (model) {
    const scores = await Promise.all(scored);
    // The strategy's entry rule, when it has one, filters the model's scores.
    const tracks = strategy && isModelScorer(strategy.scorer) && strategy.entry ? scores.map((t, i) => trackOf(strategy, i, t)) : scores;
    tested.push({ name: `model:${model.name}`, tracks, ...(strategy && isModelScorer(strategy.scorer) ? { customExit } : {}) });
    await model.close();
    modelInfo = { name: model.name, dir: modelDir!, promotable: model.card.promotable === true };
  }
  if (strategy && !isModelScorer(strategy.scorer)) {
    tested.unshift({ name: `strategy:${strategy.name}`, tracks: matrices.map((_, i) => trackOf(strategy, i)), note: strategy.description, customExit });
  }
  fBar.done();
  const tInf = performance.now();
  const f = FEATURE_NAMES.length;
  const atrNorm = matrices.map((m) => Float32Array.from(m.valid, (ok, i) => (ok ? m.rows[i * f + ATR_NORM_COLUMN]! : NaN)));
  return {
    dataDir: o.dataDir, symbols, market: { symbols, candles, intervalMs, from, to, atrNorm }, matrices, tested, model: modelInfo,
    strategy, strategyParams, candleCount: candles.reduce((n, cs) => n + cs.length, 0),
    seconds: { load: seconds(t0, tLoad), features: seconds(tLoad, tFeat), inference: seconds(tFeat, tInf) },
  };
}

export interface SimulationSettings {
  params: TradingParams;
  limits: RiskLimits;
  intrabar: IntrabarMode;
  capital: number;
  seed: number;
}

/**
 * The strategy under test and the baselines (always-HOLD, random entries at the same frequency,
 * momentum) on the same settings: the baselines are rebuilt from the parameters, so a different
 * confidence threshold gives the random baseline the tested strategy's new trade rate.
 */
export function simulate(p: PreparedBacktest, st: SimulationSettings, progress = false): { reports: StrategyReport[]; curves: StrategyCurve[] } {
  const { params, matrices, market, symbols } = { params: st.params, ...p };
  // Rule baselines are sized like the tested strategy's average trade, and random trades as often.
  const reference = p.tested[0] ? actionableStats(p.tested[0].tracks, matrices, params.confidenceThreshold) : null;
  const confidence = reference?.meanConfidence ?? params.confidenceThreshold;
  const momentum = matrices.map((m, i) => strategyTrack(momentumStrategy, { z: MOMENTUM_Z, confidence }, symbols[i]!, market.candles[i]!, m, market.intervalMs, 0));
  const rate = reference?.rate ?? actionableStats(momentum, matrices, params.confidenceThreshold).rate;
  const rng = seededRandom(st.seed);
  const strategies = [
    ...p.tested,
    { name: 'always-hold', tracks: matrices.map((m) => holdTrack(m.valid.length)) },
    {
      name: 'random',
      tracks: matrices.map((m) => randomTrack(m, rate, confidence, rng)),
      note: `random side on ${(rate * 100).toFixed(2)}% of candles (${reference ? `${p.tested[0]!.name}'s` : "the momentum rule's"} signal rate), seed ${st.seed}`,
    },
    { name: 'momentum', tracks: momentum, note: 'the 12-candle move beyond 1.5 sigma, in its direction' },
  ] as PreparedBacktest['tested'];
  const bar = new Progress(`simulate (${st.intrabar})`, strategies.length, progress);
  const curves: StrategyCurve[] = [];
  const reports = strategies.map((s, i): StrategyReport => {
    const r: BacktesterResult = runBacktester(market, s.tracks, { params, limits: st.limits, intrabar: st.intrabar, ...(s.customExit ? { customExit: s.customExit } : {}) });
    bar.update(i + 1, s.name);
    curves.push({ name: s.name, times: r.times, equity: r.equity, trades: r.trades });
    return { name: s.name, intrabar: st.intrabar, total: portfolioStats(r, st.capital), perSymbol: symbolStats(r, symbols), riskRejections: r.riskRejections, note: s.note };
  });
  bar.done();
  return { reports, curves };
}

/** The effective loop and exit parameters: given ones, else the defaults with the strategy's exits. */
function paramsOf(o: BacktestOptions): TradingParams {
  return o.params ?? { ...DEFAULT_PARAMS, ...o.strategy?.exits };
}

export async function runBacktest(o: BacktestOptions): Promise<BacktestRun> {
  const t0 = performance.now();
  const p = await prepareBacktest(o);
  const tSim = performance.now();
  const params = paramsOf(o);
  const limits = o.limits ?? DEFAULT_RISK_LIMITS;
  const capital = o.capital ?? limits.maxTotalNotional;
  const seed = o.seed ?? 42;
  const intrabar = o.intrabar?.length ? o.intrabar : (['path'] as IntrabarMode[]);
  const reports: StrategyReport[] = [];
  const curves: StrategyCurve[] = [];
  for (const [i, mode] of intrabar.entries()) {
    const r = simulate(p, { params, limits, intrabar: mode, capital, seed }, o.progress ?? true);
    // The first path keeps the plain names; another path's rows and curves say which path they walked.
    const named = (name: string) => (i === 0 ? name : `${name} (${mode})`);
    reports.push(...r.reports.map((x) => ({ ...x, name: named(x.name) })));
    curves.push(...r.curves.map((x) => ({ ...x, name: named(x.name) })));
  }
  const tEnd = performance.now();
  const settings: BacktestSettings = { params, strategy: p.strategy?.name ?? null, strategyParams: p.strategyParams, limits, intrabar, seed };
  return {
    report: {
      dataDir: p.dataDir, symbols: p.symbols, from: new Date(p.market.from).toISOString(), to: new Date(p.market.to).toISOString(), intervalMs: p.market.intervalMs,
      candles: p.candleCount, simulatedSteps: curves[0]?.times.length ?? 0, capital,
      model: p.model, strategies: reports, settings,
      seconds: { ...p.seconds, simulation: seconds(tSim, tEnd), total: seconds(t0, tEnd) },
    },
    curves,
    settings,
  };
}
