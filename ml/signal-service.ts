import { pino, type Logger } from 'pino';
import type { Candle, ScoredSignal, Signal } from '../core/types.js';
import { SIGNAL_CLASSES } from '../core/types.js';
import { ATR_NORM_COLUMN, CandleError, FEATURE_NAMES, FeatureBuilder, WARMUP_CANDLES } from '../core/features.js';
import { staleCandle } from '../core/loop.js';
import type { LoadedModel } from './model.js';
import { fixedModelProvider, loadFixedModels, type ModelProvider, type ModelSource } from './model-provider.js';

export interface SignalServiceOptions {
  primaryDir: string;
  backupDir?: string | null;
  allowUnproven?: boolean;
  liveTrading?: boolean;
  /** Scores requested within this window share one session.run. */
  batchWindowMs?: number;
  /** A last closed candle whose close is older than this is stale (HOLD). Default: two intervals. */
  staleAfterMs?: number;
  /** Clock (the replay clock in replay mode). */
  now?: () => number;
  logger?: Logger;
  /** Where each score gets its model (hot reload: ml/model-provider.ts); default the fixed primary / backup. */
  models?: ModelProvider;
}

export interface SignalServiceStatus {
  model: string | null;
  source: ModelSource;
  dir: string | null;
  promotable: boolean | null;
  /** Closed candles a score() call needs: the warm-up plus the model's sequence window. */
  candlesNeeded: number;
  loadErrors: string[];
  scored: number;
  batches: number;
  lastBatchSize: number;
  holds: number;
}

export interface SignalService {
  /**
   * Score the closed candles of one symbol (oldest first). `features`, when given, are the feature rows of
   * the last `window` candles kept incrementally by the caller (the stream store); otherwise they are
   * computed from the candles. Never throws: problems become HOLD with a holdReason.
   */
  score(symbol: string, candles: readonly Candle[], features?: Float32Array): Promise<ScoredSignal>;
  status(): SignalServiceStatus;
  close(): Promise<void>;
}

interface Pending {
  model: LoadedModel;
  rows: Float32Array;
  resolve: (probs: Float32Array | string) => void;
}

/**
 * Scores symbols with the model its provider lends (by default the primary model loaded once, falling back
 * to the backup, then to HOLD with an alert; in the worker the registry's ACTIVE model, hot-reloaded) in
 * micro-batches: every score() call arriving within `batchWindowMs` goes into ONE
 * session.run, so a tick's symbols are scored together.
 */
export async function createSignalService(opts: SignalServiceOptions): Promise<SignalService> {
  const log = opts.logger ?? pino({ name: 'signals' });
  const now = opts.now ?? Date.now;
  const models = opts.models ?? fixedModelProvider(await loadFixedModels(opts, { liveTrading: opts.liveTrading, allowUnproven: opts.allowUnproven }, log));
  const loaded = models.describe().model;
  if (!loaded) log.warn({ errors: models.describe().loadErrors }, 'ALERT: no usable model: every signal is HOLD');
  else log.info({ model: loaded.name, source: models.describe().source, promotable: loaded.card.promotable }, 'model loaded');

  const stats = { scored: 0, batches: 0, lastBatchSize: 0, holds: 0 };
  let queue: Pending[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;

  async function flush(): Promise<void> {
    timer = null;
    const batch = queue;
    queue = [];
    // A model swapped during the window: each model scores the rows asked of it.
    for (const model of new Set(batch.map((p) => p.model))) await runBatch(model, batch.filter((p) => p.model === model));
  }

  async function runBatch(model: LoadedModel, batch: Pending[]): Promise<void> {
    const rowLen = model.window * FEATURE_NAMES.length;
    const input = new Float32Array(batch.length * rowLen);
    batch.forEach((p, i) => input.set(p.rows, i * rowLen));
    stats.batches++;
    stats.lastBatchSize = batch.length;
    try {
      const probs = await model.run(input, batch.length);
      batch.forEach((p, i) => p.resolve(probs.slice(i * 3, i * 3 + 3)));
    } catch (e) {
      log.error({ err: (e as Error).message, model: model.name }, 'inference failed: HOLD for this batch');
      batch.forEach((p) => p.resolve(`inference failed: ${(e as Error).message}`));
    }
  }

  function infer(model: LoadedModel, rows: Float32Array): Promise<Float32Array | string> {
    return new Promise((resolve) => {
      queue.push({ model, rows, resolve });
      timer ??= setTimeout(() => void flush(), opts.batchWindowMs ?? 2);
    });
  }

  async function score(symbol: string, candles: readonly Candle[], features?: Float32Array): Promise<ScoredSignal> {
    const last = candles[candles.length - 1];
    // The model this score runs on, held until it is done: a hot reload meanwhile closes it only afterwards.
    const lease = models.acquire();
    const model = lease?.model ?? null;
    const hold = (reason: string): ScoredSignal => {
      stats.holds++;
      return {
        symbol, signal: 'HOLD', confidence: 0, probabilities: { HOLD: 1, BUY: 0, SELL: 0 },
        candleTime: last?.openTime ?? 0, price: last?.close ?? 0, model: model?.name ?? 'none', holdReason: reason,
      };
    };
    try {
      if (!model) return hold('no model loaded');
      const kept = features?.length === model.window * FEATURE_NAMES.length && candles.length >= 2 ? features : undefined;
      const rows = kept ?? featureWindow(candles, model.window);
      if (typeof rows === 'string') return hold(rows);
      if (!rows.every(Number.isFinite)) return hold('non-finite feature');
      const interval = candles[candles.length - 1]!.openTime - candles[candles.length - 2]!.openTime;
      const stale = staleCandle({ candleTime: last!.openTime, intervalMs: interval, staleAfterMs: opts.staleAfterMs ?? 2 * interval }, now());
      if (stale) return hold(stale);
      const probs = await infer(model, rows);
      if (typeof probs === 'string') return hold(probs);
      if (!probs.every((p) => Number.isFinite(p) && p >= 0 && p <= 1)) return hold('model returned invalid probabilities');
      stats.scored++;
      return toSignal(symbol, probs, last!, model.name, rows[rows.length - FEATURE_NAMES.length + ATR_NORM_COLUMN]);
    } catch (e) {
      return hold(`scoring error: ${(e as Error).message}`);
    } finally {
      lease?.release();
    }
  }

  return {
    score,
    status: () => {
      const { model, source, loadErrors } = models.describe();
      return {
        model: model?.name ?? null, source, dir: model?.dir ?? null, promotable: model ? model.card.promotable === true : null,
        candlesNeeded: WARMUP_CANDLES + (model?.window ?? 1) - 1,
        loadErrors, ...stats,
      };
    },
    async close() {
      if (timer) clearTimeout(timer);
      await flush();
      await models.close();
    },
  };
}

/** The last `window` feature rows, back to back, or the reason there are none. */
export function featureWindow(candles: readonly Candle[], window: number): Float32Array | string {
  if (candles.length < WARMUP_CANDLES + window - 1) return `insufficient data: need ${WARMUP_CANDLES + window - 1} closed candles, got ${candles.length}`;
  const b = new FeatureBuilder();
  const f = FEATURE_NAMES.length;
  const out = new Float32Array(window * f);
  const start = candles.length - window;
  try {
    candles.forEach((c, i) => {
      const row = b.push(c);
      if (i >= start) {
        if (!row) throw new CandleError('no features');
        out.set(row, (i - start) * f);
      }
    });
  } catch (e) {
    if (e instanceof CandleError) return `invalid candles: ${e.message}`;
    throw e;
  }
  if (!out.every(Number.isFinite)) return 'non-finite feature';
  return out;
}

/** A signal from the model's probabilities; `atrNorm` is the scored candle's ATR feature (for ATR exits). */
export function toSignal(symbol: string, probs: Float32Array, last: Candle, modelName: string, atrNorm?: number): ScoredSignal {
  let best = 0;
  for (let k = 1; k < 3; k++) if (probs[k]! > probs[best]!) best = k;
  return {
    symbol,
    signal: SIGNAL_CLASSES[best] as Signal,
    confidence: probs[best]!,
    probabilities: { HOLD: probs[0]!, BUY: probs[1]!, SELL: probs[2]! },
    candleTime: last.openTime,
    price: last.close,
    model: modelName,
    ...(atrNorm !== undefined ? { atrNorm } : {}),
  };
}
