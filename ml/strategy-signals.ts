import type { Candle, ScoredSignal } from '../core/types.js';
import { ATR_NORM_COLUMN, FEATURE_NAMES, WARMUP_CANDLES } from '../core/features.js';
import { staleCandle } from '../core/loop.js';
import { type Strategy, evaluateStrategy, isModelScorer, readsPipeline, strategyWarmup } from '../core/strategy.js';
import type { SignalSource } from '../activities/signal-source.js';
import { holdSignal } from '../activities/signal-source.js';
import { type SignalService, featureWindow } from './signal-service.js';

export interface StrategySignalOptions {
  /** The model signal service, for a strategy whose scorer is a model. */
  model?: SignalService | null;
  /** A last closed candle whose close is older than this is stale (HOLD). Default: two intervals. */
  staleAfterMs?: number;
  now?: () => number;
}

/**
 * The live loop's signals from a strategy (strategies/<name>.ts): a model strategy is scored by the
 * batched model service and then passed through its entry rule; a rule strategy is evaluated here on
 * the symbol's closed candles. Both go through core/strategy.ts, as in the backtester.
 */
export class StrategySignalSource<P extends Record<string, unknown>> implements SignalSource {
  readonly needsCandles = true;
  /** Closed candles one score needs. */
  readonly candlesNeeded: number;

  constructor(readonly strategy: Strategy<P>, readonly params: P, private readonly opts: StrategySignalOptions = {}) {
    if (isModelScorer(strategy.scorer) && !opts.model) throw new Error(`strategy ${strategy.name} scores a model: a model signal service is needed`);
    this.candlesNeeded = opts.model ? opts.model.status().candlesNeeded : strategyWarmup(strategy, WARMUP_CANDLES);
  }

  async score(symbol: string, candles: Candle[], features?: Float32Array): Promise<ScoredSignal> {
    const s = this.strategy;
    const last = candles.length - 1;
    if (this.opts.model) {
      const scored = await this.opts.model.score(symbol, candles, features);
      if (!s.entry || scored.signal === 'HOLD') return scored;
      const row = this.pipelineRow(candles, features);
      if (typeof row === 'string') return { ...holdSignal(symbol, candles, row), model: scored.model };
      const r = evaluateStrategy(s, this.params, symbol, candles, last, row, { signal: scored.signal, confidence: scored.confidence });
      if (r.signal === scored.signal && r.confidence === scored.confidence) return scored;
      return { ...scored, signal: r.signal, confidence: r.confidence, ...(r.signal === 'HOLD' ? { holdReason: `entry rule of ${s.name}` } : {}) };
    }
    const hold = (reason: string): ScoredSignal => ({ ...holdSignal(symbol, candles, reason), model: s.name });
    if (candles.length < Math.max(2, this.candlesNeeded)) return hold(`insufficient data: need ${this.candlesNeeded} closed candles, got ${candles.length}`);
    const intervalMs = candles[last]!.openTime - candles[last - 1]!.openTime;
    const stale = staleCandle({ candleTime: candles[last]!.openTime, intervalMs, staleAfterMs: this.opts.staleAfterMs ?? 2 * intervalMs }, (this.opts.now ?? Date.now)());
    if (stale) return hold(stale);
    const row = readsPipeline(s) ? this.pipelineRow(candles, features) : null;
    if (typeof row === 'string') return hold(row);
    const r = evaluateStrategy(s, this.params, symbol, candles, last, row);
    const c = r.signal === 'HOLD' ? 0 : r.confidence;
    // An entry carries the candle's ATR for ATR exits (a rule that reads no pipeline computes it only then).
    const atrRow = r.signal === 'HOLD' ? null : (row ?? this.pipelineRow(candles, features));
    return {
      symbol, signal: r.signal, confidence: c,
      probabilities: { HOLD: 1 - c, BUY: r.signal === 'BUY' ? c : 0, SELL: r.signal === 'SELL' ? c : 0 },
      candleTime: candles[last]!.openTime, price: candles[last]!.close, model: s.name,
      ...(atrRow && typeof atrRow !== 'string' ? { atrNorm: atrRow[ATR_NORM_COLUMN]! } : {}),
    };
  }

  /** The pipeline's feature row of the last candle: from the stream store's rows when kept, else computed. */
  private pipelineRow(candles: readonly Candle[], features?: Float32Array): Float32Array | string {
    const f = FEATURE_NAMES.length;
    if (features && features.length >= f && features.length % f === 0) return features.subarray(features.length - f);
    return featureWindow(candles, 1);
  }
}
