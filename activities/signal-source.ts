import type { Candle, ScoredSignal, Signal } from '../core/types.js';

/** Anything that turns a symbol's closed candles into a signal: the ONNX model service, or a script. */
export interface SignalSource {
  /** `features`: the last feature rows when the candle source keeps them (else computed from `candles`). */
  score(symbol: string, candles: Candle[], features?: Float32Array): Promise<ScoredSignal>;
  /** False for sources that ignore market data (scripts): the loop then skips fetching candles. */
  readonly needsCandles?: boolean;
}

export function holdSignal(symbol: string, candles: Candle[], holdReason: string): ScoredSignal {
  const last = candles[candles.length - 1];
  return {
    symbol,
    signal: 'HOLD',
    confidence: 0,
    probabilities: { HOLD: 1, BUY: 0, SELL: 0 },
    candleTime: last?.openTime ?? 0,
    price: last?.close ?? 0,
    model: 'none',
    holdReason,
  };
}

/**
 * Signals decided by a test or a demo instead of a model: `set(symbol, 'BUY', 0.7)` makes every
 * following evaluation of that symbol return that signal until changed. Used by the integration
 * tests; never selected in live trading.
 */
export class ScriptedSignalSource implements SignalSource {
  readonly needsCandles = false;
  private readonly next = new Map<string, { signal: Signal; confidence: number; atrNorm?: number }>();

  /** `atrNorm`: the ATR 14 / close the signal reports for its candle (what ATR exits scale by). */
  set(symbol: string, signal: Signal, confidence: number, atrNorm?: number): void {
    this.next.set(symbol, { signal, confidence, ...(atrNorm !== undefined ? { atrNorm } : {}) });
  }

  async score(symbol: string, candles: Candle[]): Promise<ScoredSignal> {
    const s = this.next.get(symbol) ?? { signal: 'HOLD' as const, confidence: 1 };
    const last = candles[candles.length - 1];
    const p = { HOLD: 0, BUY: 0, SELL: 0, [s.signal]: s.confidence };
    return {
      symbol, signal: s.signal, confidence: s.confidence, probabilities: p, candleTime: last?.openTime ?? 0, price: last?.close ?? 0, model: 'script',
      ...('atrNorm' in s ? { atrNorm: s.atrNorm } : {}),
    };
  }
}
