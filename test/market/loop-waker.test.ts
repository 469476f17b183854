import { EventEmitter } from 'node:events';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WakeReason } from '../../core/wake-policy.js';
import { LoopWaker } from '../../market/loop-waker.js';
import type { MarketDataEvents } from '../../market/market-data-service.js';

const SYMBOLS = Array.from({ length: 20 }, (_, i) => `S${i}USDT`);

/** The market-data side the waker listens to. */
class Market extends EventEmitter<MarketDataEvents> {
  close(symbol: string): void {
    this.emit('candleClosed', { symbol } as MarketDataEvents['candleClosed'][0]);
  }
}

function setup(opts: { window?: number; answerTimeoutMs?: number; minGapMs?: number; fail?: (symbol: string) => boolean } = {}) {
  const market = new Market();
  const sent: { symbol: string; reasons: WakeReason[] }[] = [];
  const waker = new LoopWaker(market, {
    movePct: 0.5,
    minGapMs: opts.minGapMs ?? 2_000,
    log: pino({ level: 'silent' }),
    window: opts.window ?? 4,
    answerTimeoutMs: opts.answerTimeoutMs ?? 2_000,
    send: async (symbol, reasons) => {
      sent.push({ symbol, reasons });
      if (opts.fail?.(symbol)) throw new Error('workflow not found');
    },
  });
  return { market, sent, waker, symbols: () => sent.map((s) => s.symbol) };
}

/** Lets the send promises settle. */
const settle = () => vi.advanceTimersByTimeAsync(0);

/** The loops of `symbols` evaluated on this worker a moment ago: they run here. */
function runHere(waker: LoopWaker, symbols: string[]): void {
  for (const s of symbols) waker.loopEvaluated(s);
  vi.advanceTimersByTime(1);
}

describe('LoopWaker', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('holds a candle close of many loops to a window of wakes awaiting their evaluation', async () => {
    const { market, waker, symbols } = setup({ window: 4 });
    runHere(waker, SYMBOLS);
    for (const s of SYMBOLS) market.close(s);
    await settle();
    expect(symbols()).toEqual(SYMBOLS.slice(0, 4));
    // Each evaluation lets the next wake go, in the order the candles closed.
    waker.loopEvaluated('S1USDT');
    waker.loopEvaluated('S0USDT');
    await settle();
    expect(symbols()).toEqual(SYMBOLS.slice(0, 6));
    for (const s of SYMBOLS.slice(2)) {
      waker.loopEvaluated(s);
      await settle();
    }
    expect(symbols()).toEqual(SYMBOLS);
    expect(waker.stats).toMatchObject({ sent: 20, answered: 0, failed: 0 });
    waker.close();
  });

  it('does not send a queued wake whose loop evaluated on its timer before the wake\'s turn', async () => {
    const { market, waker, symbols } = setup({ window: 2 });
    runHere(waker, SYMBOLS);
    for (const s of SYMBOLS.slice(0, 5)) market.close(s);
    await settle();
    vi.advanceTimersByTime(10);
    waker.loopEvaluated('S3USDT'); // its timer fired while its wake waited in the queue
    waker.loopEvaluated('S0USDT');
    waker.loopEvaluated('S1USDT');
    await settle();
    expect(symbols()).toEqual(['S0USDT', 'S1USDT', 'S2USDT', 'S4USDT']);
    expect(waker.stats).toMatchObject({ sent: 4, answered: 1 });
    waker.close();
  });

  it('frees the place of a wake its loop never answers after the timeout, and of a failed one at once', async () => {
    const { market, waker, symbols } = setup({ window: 2, answerTimeoutMs: 2_000, fail: (s) => s === 'S1USDT' });
    runHere(waker, SYMBOLS);
    for (const s of SYMBOLS.slice(0, 4)) market.close(s);
    await settle();
    // S1's signal failed (no such loop): S2 takes its place at once; S0 and S2 await their loops.
    expect(symbols()).toEqual(['S0USDT', 'S1USDT', 'S2USDT']);
    expect(waker.stats).toMatchObject({ sent: 2, failed: 1 });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(symbols()).toHaveLength(3);
    // Nobody answered S0 or S2 (their tasks moved to another worker, say): their places are freed after 2 s.
    await vi.advanceTimersByTimeAsync(1);
    expect(symbols()).toEqual(['S0USDT', 'S1USDT', 'S2USDT', 'S3USDT']);
    waker.close();
  });

  it('sends a second wake to a loop already awaiting one without taking a second place', async () => {
    const { market, waker, symbols } = setup({ window: 2, minGapMs: 0 });
    runHere(waker, SYMBOLS);
    market.close('S0USDT');
    await settle();
    vi.advanceTimersByTime(5);
    market.close('S0USDT');
    market.close('S1USDT');
    market.close('S2USDT');
    await settle();
    expect(symbols()).toEqual(['S0USDT', 'S0USDT', 'S1USDT']);
    waker.loopEvaluated('S0USDT');
    await settle();
    expect(symbols()).toEqual(['S0USDT', 'S0USDT', 'S1USDT', 'S2USDT']);
    waker.close();
  });

  it('wakes loops that do not run on this worker at once, beside the window', async () => {
    const { market, waker, symbols } = setup({ window: 1 });
    runHere(waker, ['S0USDT', 'S1USDT']);
    // S2.. never evaluated here (another worker runs them, or this one just started): nothing here can answer them.
    for (const s of SYMBOLS.slice(0, 6)) market.close(s);
    await settle();
    expect(symbols()).toEqual(['S0USDT', 'S2USDT', 'S3USDT', 'S4USDT', 'S5USDT']);
    // S1 waits for the window's one place, which S0 frees when its wake times out unanswered.
    await vi.advanceTimersByTimeAsync(2_000);
    expect(symbols().slice(5)).toEqual(['S1USDT']);
    // A loop that last evaluated here over two minutes ago no longer counts as running here.
    await vi.advanceTimersByTimeAsync(120_000);
    market.close('S0USDT');
    market.close('S1USDT');
    await settle();
    expect(symbols().slice(6)).toEqual(['S0USDT', 'S1USDT']);
    waker.close();
  });

  it('sends nothing after close', async () => {
    const { market, waker, symbols } = setup({ window: 1 });
    runHere(waker, SYMBOLS);
    market.close('S0USDT');
    market.close('S1USDT');
    await settle();
    waker.close();
    market.close('S2USDT');
    waker.loopEvaluated('S0USDT');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(symbols()).toEqual(['S0USDT']);
  });
});
