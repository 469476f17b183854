import type { z } from 'zod';
import type { Candle, Signal } from './types.js';
import type { ExitSettings } from './exits.js';
import type { PositionView } from './position.js';
import { FEATURE_NAMES } from './features.js';

/**
 * What a strategy is: named features, a scorer (a model directory or a rule), an entry rule that sees
 * the features, exits, warm-up and parameters. Strategies live one per file in strategies/; the signal
 * service, the backtester, the dataset builder and `qt config` read them. Pure: no I/O here.
 */

/** A feature computed from the last `warmup` closed candles (oldest first; the last is the candle just closed). */
export interface CandleFeature {
  warmup: number;
  compute(window: readonly Candle[]): number;
}

/** A column of the shared feature pipeline (core/features.ts), by name: e.g. `pipeline('ret_12')`. */
export interface PipelineFeature {
  pipeline: string;
}

export type FeatureDef = CandleFeature | PipelineFeature;

export function pipeline(name: string): PipelineFeature {
  if (!FEATURE_NAMES.includes(name)) throw new Error(`unknown pipeline feature ${name}; known: ${FEATURE_NAMES.join(', ')}`);
  return { pipeline: name };
}

export interface Score {
  signal: Signal;
  confidence: number;
}

export type FeatureValues = Readonly<Record<string, number>>;

/** What a rule and an entry rule see for one symbol at one closed candle. */
export interface StrategyContext<P> {
  symbol: string;
  /** The candle that just closed. */
  candle: Candle;
  features: FeatureValues;
  params: P;
}

export type Scorer<P> =
  /** A model directory (model.onnx + card.json) scored on the whole feature pipeline. */
  | { model: string }
  | { rule(ctx: StrategyContext<P>): Score };

/** One strategy parameter's description, attached to its zod schema with `.meta(...)`. */
export interface ParamMeta {
  /** Environment variable that sets it (QT_ prefix). */
  env: string;
  description: string;
  /** Whether `qt config set` may change it on running loops (standard loop and exit parameters only). */
  runtime?: boolean;
}

export interface Strategy<P extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  description: string;
  /** Every parameter: default, bounds, env var (`.meta({ env, description })`), in one zod object. */
  params: z.ZodType<P, Record<string, unknown>>;
  /** Named features the rules read. Model strategies use the whole pipeline and may list none. */
  features: Record<string, FeatureDef>;
  scorer: Scorer<P>;
  /** Entry rule on the score with the features: return the score to trade, or HOLD to filter it out. Default: the score. */
  entry?(ctx: StrategyContext<P> & { score: Score }): Score;
  /** Standard exits (mode, take profit, stop loss, trailing, time limit; percent or ATR) where they differ from the defaults. */
  exits?: Partial<ExitSettings>;
  /** A custom exit, checked after the standard ones (backtest; see README for the live loop). */
  customExit?(position: PositionView, params: P): boolean;
}

export function defineStrategy<P extends Record<string, unknown>>(s: Strategy<P>): Strategy<P> {
  return s;
}

export const isPipeline = (f: FeatureDef): f is PipelineFeature => 'pipeline' in f;
export const isModelScorer = <P>(s: Scorer<P>): s is { model: string } => 'model' in s;

/** Closed candles a strategy needs before its first score (pipeline features need the pipeline's warm-up). */
export function strategyWarmup(s: Strategy<never> | Strategy, pipelineWarmup: number): number {
  const own = Math.max(1, ...Object.values(s.features).filter((f) => !isPipeline(f)).map((f) => (f as CandleFeature).warmup));
  return readsPipeline(s) ? Math.max(own, pipelineWarmup) : own;
}

/**
 * The strategy's verdict on candle `last` of `candles`, just closed: its features, its scorer (rules
 * only; models are scored in batches by the caller, who passes `modelScore`) and its entry rule.
 * `pipelineRow` is the pipeline's feature row of that candle when the strategy reads one. Candle
 * features see candles `first..last`, which the caller guarantees are contiguous. The live signal source and the backtester both
 * call this, so a strategy trades the same in each.
 */
export function evaluateStrategy<P extends Record<string, unknown>>(
  s: Strategy<P>,
  params: P,
  symbol: string,
  candles: readonly Candle[],
  last: number,
  pipelineRow: ArrayLike<number> | null,
  modelScore?: Score,
  first = 0,
): Score & { features: FeatureValues } {
  const features: Record<string, number> = {};
  for (const [name, def] of Object.entries(s.features)) {
    if (isPipeline(def)) features[name] = pipelineRow ? pipelineRow[FEATURE_NAMES.indexOf(def.pipeline)]! : NaN;
    else features[name] = last + 1 - first >= def.warmup ? def.compute(candles.slice(last + 1 - def.warmup, last + 1)) : NaN;
  }
  const hold = { signal: 'HOLD' as const, confidence: 0, features };
  for (const name in features) if (!Number.isFinite(features[name])) return hold;
  const ctx = { symbol, candle: candles[last]!, features, params };
  const score = modelScore ?? (isModelScorer(s.scorer) ? null : s.scorer.rule(ctx));
  if (!score) return hold;
  const entered = s.entry ? s.entry({ ...ctx, score }) : score;
  return { ...entered, features };
}

/** Whether a strategy reads the feature pipeline (a model, or a pipeline feature). */
export function readsPipeline(s: Strategy<never> | Strategy): boolean {
  return isModelScorer(s.scorer) || Object.values(s.features).some(isPipeline);
}
