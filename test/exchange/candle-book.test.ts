import { describe, expect, it } from 'vitest';
import type { Candle } from '../../core/types.js';
import { CandleBook } from '../../exchange/streams/candle-book.js';
import { klinePayload, markPricePayload, readStreamEvent } from '../../exchange/streams/payloads.js';

const I = 300_000;
const c = (i: number, close = 100 + i): Candle => ({ openTime: i * I, open: close, high: close + 1, low: close - 1, close, volume: 10 });
const range = (from: number, to: number): Candle[] => Array.from({ length: to - from + 1 }, (_, k) => c(from + k));

describe('CandleBook', () => {
  it('seeds from a batch (last row forming), appends contiguous closes, ignores repeats', () => {
    const b = new CandleBook(I, 5);
    expect(b.apply(c(1), true)).toEqual({ kind: 'unseeded' });
    expect(b.merge(range(1, 4), true)).toEqual({ appended: range(1, 3), reset: true });
    expect(b.forming).toEqual(c(4));
    expect(b.apply(c(3), true)).toEqual({ kind: 'old' });
    expect(b.apply({ ...c(4), close: 110, high: 111 }, false)).toEqual({ kind: 'forming' });
    expect(b.apply(c(4), true)).toEqual({ kind: 'appended', candle: c(4) });
    expect(b.forming).toBeNull();
    for (const i of [5, 6, 7]) b.apply(c(i), true);
    expect(b.closed).toEqual(range(3, 7)); // bounded to capacity
  });

  it('reports the closed candles missing before an update instead of appending across a gap', () => {
    const b = new CandleBook(I, 10);
    b.merge(range(1, 3), false);
    expect(b.apply(c(6), false)).toEqual({ kind: 'gap', missing: 2 });
    expect(b.apply(c(5), true)).toEqual({ kind: 'gap', missing: 1 });
    expect(b.closed).toEqual(range(1, 3));
  });

  it('joins a REST batch that overlaps, replaces the book with one that cannot be joined, and drops what precedes a hole', () => {
    const b = new CandleBook(I, 10);
    b.merge(range(1, 3), false);
    expect(b.joins(range(2, 6), true)).toBe(true);
    expect(b.merge(range(2, 6), true)).toEqual({ appended: range(4, 5), reset: false });
    expect(b.forming).toEqual(c(6));
    expect(b.joins(range(8, 9), false)).toBe(false);
    const holed = [...range(8, 9), ...range(11, 12)];
    expect(b.merge(holed, false)).toEqual({ appended: range(11, 12), reset: true });
    expect(b.closed).toEqual(range(11, 12));
    expect(b.forming).toBeNull();
  });
});

describe('stream payloads', () => {
  const row = [1_800_000_000_000, '100.5', '101.0', '99.5', '100.0', '12.5', 1_800_000_299_999, '1250.0'] as const;

  it('reads what the local exchange writes, in Binance shape', () => {
    const k = klinePayload('BTCUSDT', '5m', row, true, 1_800_000_300_001);
    expect(k).toMatchObject({ e: 'kline', s: 'BTCUSDT', k: { t: row[0], T: row[6], i: '5m', o: '100.5', h: '101.0', l: '99.5', c: '100.0', v: '12.5', x: true } });
    expect(readStreamEvent(k)).toEqual([{ kind: 'kline', symbol: 'BTCUSDT', interval: '5m', closed: true, closeTime: row[6], eventTime: 1_800_000_300_001, candle: { openTime: row[0], open: 100.5, high: 101, low: 99.5, close: 100, volume: 12.5 } }]);
    const m = markPricePayload('ETHUSDT', '3000.10', '0.00010000', 1_800_028_800_000, 5);
    expect(readStreamEvent([m, m])).toEqual([{ kind: 'mark', symbol: 'ETHUSDT', price: 3000.1, eventTime: 5 }, { kind: 'mark', symbol: 'ETHUSDT', price: 3000.1, eventTime: 5 }]);
  });

  it('refuses malformed events: one bad print never becomes a candle or a price', () => {
    const k = klinePayload('BTCUSDT', '5m', row, true, 1);
    const bad: unknown[] = [
      null,
      'text',
      { e: 'trade' },
      { ...k, s: 'btc usdt' },
      { ...k, k: { ...k.k, c: '-1' } },
      { ...k, k: { ...k.k, o: 'NaN' } },
      { ...k, k: { ...k.k, h: '99.0' } }, // high below the open
      { ...k, k: { ...k.k, t: 1.5 } },
      { ...k, k: { ...k.k, T: k.k.t } },
      { ...k, k: { ...k.k, x: 'true' } },
      { ...markPricePayload('ETHUSDT', '0', '0', 0, 1) },
      { ...markPricePayload('ETHUSDT', '1e400', '0', 0, 1) },
      [markPricePayload('ETHUSDT', '1', '0', 0, 1), { e: 'markPriceUpdate', s: 'ETHUSDT', p: '', E: 1 }],
    ];
    for (const b of bad) expect(typeof readStreamEvent(b)).toBe('string');
  });
});
