import { deriveSeed, seededRandom } from '../core/random.js';
import type { Candle, ScoredSignal } from '../core/types.js';
import type { SignalSource } from './signal-source.js';

/** Confidence of a forced entry: above any threshold up to this value, so every draw is a real entry. */
const MIN_ENTRY_CONFIDENCE = 0.75;

/**
 * Seeded coin flips instead of a model (`QT_SIGNAL_SOURCE=random:<seed>:<entry-probability>`): each
 * evaluation is BUY or SELL with that probability, else HOLD. It forces entries often enough that
 * positions open and close all the time, which is what a chaos run needs to catch orders in flight.
 * Each symbol draws from its own sequence (seed + symbol), restarted with the worker process, so draws
 * repeat per process but not across crashes. Paper venue only: configuration refuses it elsewhere.
 */
export class RandomSignalSource implements SignalSource {
  readonly needsCandles = false;
  private readonly draws = new Map<string, () => number>();

  constructor(
    private readonly seed: number,
    private readonly entryProbability: number,
  ) {}

  async score(symbol: string, candles: Candle[]): Promise<ScoredSignal> {
    let next = this.draws.get(symbol);
    if (!next) {
      next = seededRandom(deriveSeed(this.seed, symbol));
      this.draws.set(symbol, next);
    }
    const enter = next() < this.entryProbability;
    const buy = next() < 0.5;
    const confidence = enter ? MIN_ENTRY_CONFIDENCE + next() * (1 - MIN_ENTRY_CONFIDENCE) : 1;
    const signal = !enter ? 'HOLD' : buy ? 'BUY' : 'SELL';
    const last = candles[candles.length - 1];
    return {
      symbol,
      signal,
      confidence,
      probabilities: { HOLD: 0, BUY: 0, SELL: 0, [signal]: confidence },
      candleTime: last?.openTime ?? 0,
      price: last?.close ?? 0,
      model: `random:${this.seed}`,
    };
  }
}
