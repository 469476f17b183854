import type { Candle } from '../../core/types.js';

/**
 * Binance USD-M market stream payloads (`<symbol>@kline_<interval>`, `<symbol>@markPrice[@1s]`,
 * `!markPrice@arr[@1s]`) in Binance's wire shape, and their strict reading. The local exchange formats with
 * these functions; the worker and the live feed read every incoming event through `readStreamEvent`, which
 * refuses anything malformed, so a bad print never reaches a candle store or a price.
 */

/** Binance's kline event (`e: "kline"`); numbers as decimal strings like the REST klines. */
export interface KlinePayload {
  e: 'kline';
  /** Event time (ms). */
  E: number;
  s: string;
  k: {
    t: number;
    T: number;
    s: string;
    i: string;
    f: number;
    L: number;
    o: string;
    c: string;
    h: string;
    l: string;
    v: string;
    n: number;
    /** True on the update that closes the candle. */
    x: boolean;
    q: string;
    V: string;
    Q: string;
    B: string;
  };
}

/** Binance's mark price event (`e: "markPriceUpdate"`). */
export interface MarkPricePayload {
  e: 'markPriceUpdate';
  E: number;
  s: string;
  p: string;
  i: string;
  P: string;
  r: string;
  T: number;
}

/** A kline row as the REST klines endpoint answers it: open time, O H L C V strings, close time, quote volume. */
export type KlineRowLike = readonly [number, string, string, string, string, string, number, string, ...unknown[]];

export function klinePayload(symbol: string, interval: string, row: KlineRowLike, closed: boolean, eventTime: number): KlinePayload {
  return {
    e: 'kline',
    E: eventTime,
    s: symbol,
    k: {
      t: row[0], T: row[6], s: symbol, i: interval, f: -1, L: -1,
      o: row[1], c: row[4], h: row[2], l: row[3], v: row[5], n: 0, x: closed, q: row[7], V: '0', Q: '0', B: '0',
    },
  };
}

export function markPricePayload(symbol: string, price: string, fundingRate: string, nextFundingTime: number, eventTime: number): MarkPricePayload {
  return { e: 'markPriceUpdate', E: eventTime, s: symbol, p: price, i: price, P: price, r: fundingRate, T: nextFundingTime };
}

/** A kline update as the project uses it: the candle, whether this update closes it, and its interval. */
export interface KlineUpdate {
  kind: 'kline';
  symbol: string;
  interval: string;
  closed: boolean;
  candle: Candle;
  /** Close time of the candle as the exchange sent it (open + interval - 1). */
  closeTime: number;
  eventTime: number;
}

export interface MarkUpdate {
  kind: 'mark';
  symbol: string;
  price: number;
  eventTime: number;
}

export type StreamEvent = KlineUpdate | MarkUpdate;

/** Events of one stream message (a mark price array holds many), or the reason it is refused. */
export function readStreamEvent(data: unknown): StreamEvent[] | string {
  if (Array.isArray(data)) {
    const out: StreamEvent[] = [];
    for (const item of data) {
      const one = readOne(item);
      if (typeof one === 'string') return one;
      out.push(one);
    }
    return out;
  }
  const one = readOne(data);
  return typeof one === 'string' ? one : [one];
}

function readOne(data: unknown): StreamEvent | string {
  if (!data || typeof data !== 'object') return 'not an object';
  const d = data as Record<string, unknown>;
  if (d.e === 'kline') return readKline(d);
  if (d.e === 'markPriceUpdate') return readMark(d);
  return `unknown event type ${JSON.stringify(d.e)}`;
}

const SYMBOL = /^[A-Z0-9]{2,30}$/;

function readMark(d: Record<string, unknown>): MarkUpdate | string {
  const symbol = d.s;
  if (typeof symbol !== 'string' || !SYMBOL.test(symbol)) return `mark price: bad symbol ${JSON.stringify(symbol)}`;
  const price = positive(d.p);
  if (price === null) return `mark price ${symbol}: bad price ${JSON.stringify(d.p)}`;
  const eventTime = time(d.E);
  if (eventTime === null) return `mark price ${symbol}: bad event time ${JSON.stringify(d.E)}`;
  return { kind: 'mark', symbol, price, eventTime };
}

function readKline(d: Record<string, unknown>): KlineUpdate | string {
  const k = d.k as Record<string, unknown> | undefined;
  const symbol = d.s;
  if (typeof symbol !== 'string' || !SYMBOL.test(symbol)) return `kline: bad symbol ${JSON.stringify(symbol)}`;
  if (!k || typeof k !== 'object') return `kline ${symbol}: no k`;
  const openTime = time(k.t);
  const closeTime = time(k.T);
  const eventTime = time(d.E);
  if (openTime === null || closeTime === null || closeTime <= openTime) return `kline ${symbol}: bad times t=${JSON.stringify(k.t)} T=${JSON.stringify(k.T)}`;
  if (eventTime === null) return `kline ${symbol}: bad event time`;
  if (typeof k.i !== 'string' || typeof k.x !== 'boolean') return `kline ${symbol}: bad interval or closed flag`;
  const open = positive(k.o);
  const high = positive(k.h);
  const low = positive(k.l);
  const close = positive(k.c);
  const volume = nonNegative(k.v);
  if (open === null || high === null || low === null || close === null || volume === null) return `kline ${symbol} ${openTime}: non-numeric or non-positive OHLCV`;
  if (high < Math.max(open, close, low) || low > Math.min(open, close)) return `kline ${symbol} ${openTime}: inconsistent OHLC`;
  return { kind: 'kline', symbol, interval: k.i, closed: k.x, closeTime, eventTime, candle: { openTime, open, high, low, close, volume } };
}

function decimal(x: unknown): number | null {
  // Decimal strings as Binance sends them (an exponent is tolerated: it reads the same as over REST).
  if (typeof x !== 'string' || !/^\d+(\.\d+)?(e[-+]?\d+)?$/i.test(x)) return null;
  const n = Number(x);
  return Number.isFinite(n) ? n : null;
}

function positive(x: unknown): number | null {
  const n = decimal(x);
  return n !== null && n > 0 ? n : null;
}

function nonNegative(x: unknown): number | null {
  return decimal(x);
}

function time(x: unknown): number | null {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : null;
}
