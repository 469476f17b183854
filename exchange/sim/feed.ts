import { intrabarPath } from '../../core/intrabar.js';
import type { Candle } from '../../core/types.js';
import { candleIndexAt, listKlineFiles, readCandleSeries, readKlineHead, type CandleSeries, type KlineFileHead } from '../klines-file.js';
import type { SymbolRules } from '../types.js';
import { filtersSnapshot } from './filters-snapshot.js';

/** Binance's kline row: open time, OHLCV as strings, close time, quote volume, trades, taker volumes, ignore. */
export type KlineRow = [number, string, string, string, string, string, number, string, number, string, string, string];

export interface KlineQuery {
  intervalMs: number;
  startTime?: number;
  endTime?: number;
  limit: number;
}

export interface SymbolDescription {
  priceDecimals: number;
  /** A typical price, to size the lot step. */
  referencePrice: number;
  listedAt: number;
}

/**
 * Where prices come from. The replay feed walks historical candles on a fast clock; the manual feed takes
 * prices from the admin API; the live feed (live-feed.ts) follows an upstream Binance's public data.
 */
export interface MarketFeed {
  readonly kind: 'replay' | 'manual' | 'live';
  /** The symbol's trading rules when the feed knows them (the live feed takes Binance's own). */
  rules?(symbol: string): SymbolRules | undefined;
  symbols(): string[];
  describe(symbol: string): SymbolDescription | undefined;
  /** Current market time (ms UTC). In replay this is historical time, not the wall clock. */
  now(): number;
  /** Price at market time t (defaults to now); undefined before the symbol's first candle. */
  price(symbol: string, t?: number): number | undefined;
  /** Visits every intrabar point of `symbol` with from < time <= to, in order. */
  walk(symbol: string, from: number, to: number, visit: (time: number, price: number) => void): void;
  klines(symbol: string, q: KlineQuery): KlineRow[];
}

const INTERVALS: Record<string, number> = {
  '1m': 60_000, '3m': 180_000, '5m': 300_000, '15m': 900_000, '30m': 1_800_000, '1h': 3_600_000, '2h': 7_200_000,
  '4h': 14_400_000, '6h': 21_600_000, '8h': 28_800_000, '12h': 43_200_000, '1d': 86_400_000, '3d': 259_200_000, '1w': 604_800_000,
};

export function intervalToMs(interval: string): number | undefined {
  return INTERVALS[interval];
}

export interface ReplayFeedOptions {
  dir: string;
  /** Market milliseconds per wall millisecond (1 = real time). */
  speed: number;
  /** Market time at which the replay starts; default: three days after the earliest candle (indicator warm-up). */
  start?: number;
  symbols?: string[];
  intrabarStepMs: number;
  /** Wall clock (injectable for tests). */
  clock: () => number;
}

const DEFAULT_WARMUP_MS = 3 * 86_400_000;

interface PathCache {
  index: number;
  path: number[];
}

/**
 * Replays candle files on a clock running `speed` times faster than the wall clock. Files are described from
 * their first bytes at start and loaded on first use, so a directory of hundreds of symbols starts at once and
 * symbols nobody asks for cost nothing. After a symbol's data ends its price stays at the last close.
 */
export class ReplayFeed implements MarketFeed {
  readonly kind = 'replay' as const;
  private readonly files = new Map<string, string>();
  private readonly heads = new Map<string, KlineFileHead>();
  private readonly series = new Map<string, CandleSeries>();
  private readonly paths = new Map<string, PathCache>();
  /** USDC symbol -> the USDT symbol whose file it replays. */
  private readonly twinOf = new Map<string, string>();
  private readonly stepMs: number;
  private readonly speed: number;
  private readonly clock: () => number;
  private anchorMarket: number;
  private anchorWall: number;
  /** Open time of the earliest candle of all files. */
  readonly firstTime: number;

  constructor(opts: ReplayFeedOptions) {
    const wanted = opts.symbols ? new Set(opts.symbols) : null;
    const twins = usdcTwins();
    const files = listKlineFiles(opts.dir);
    for (const [symbol, path] of files) {
      const twin = twins.get(symbol);
      if (wanted && !wanted.has(symbol) && !(twin && wanted.has(twin))) continue;
      const head = readKlineHead(path, symbol);
      if (!head) continue;
      this.files.set(symbol, path);
      this.heads.set(symbol, head);
    }
    // A USDC symbol Binance lists, without a file of its own, replays its USDT twin's file (margined in USDC).
    for (const [usdt, usdc] of twins) {
      const head = this.heads.get(usdt);
      if (!head || files.has(usdc) || (wanted && !wanted.has(usdc))) continue;
      this.twinOf.set(usdc, usdt);
      this.heads.set(usdc, head);
    }
    // A USDT file read only for its twin is not listed itself.
    if (wanted) for (const symbol of [...this.heads.keys()]) if (!wanted.has(symbol) && !this.twinOf.has(symbol)) this.heads.delete(symbol);
    if (this.heads.size === 0) throw new Error(`no kline files (SYMBOL.csv[.gz]) found in ${opts.dir}`);
    this.firstTime = Math.min(...[...this.heads.values()].map((h) => h.firstOpenTime));
    this.stepMs = opts.intrabarStepMs;
    this.speed = opts.speed;
    this.clock = opts.clock;
    this.anchorMarket = opts.start ?? this.firstTime + DEFAULT_WARMUP_MS;
    this.anchorWall = opts.clock();
  }

  private load(symbol: string): CandleSeries | undefined {
    const twin = this.twinOf.get(symbol);
    if (twin) return this.load(twin);
    let s = this.series.get(symbol);
    if (!s) {
      const path = this.files.get(symbol);
      if (!path) return undefined;
      s = readCandleSeries(path, symbol);
      this.series.set(symbol, s);
    }
    return s;
  }

  /** Continues the replay from a market time (used when restoring persisted state). */
  resumeAt(marketTime: number): void {
    this.anchorMarket = marketTime;
    this.anchorWall = this.clock();
  }

  symbols(): string[] {
    return [...this.heads.keys()];
  }

  describe(symbol: string): SymbolDescription | undefined {
    const h = this.heads.get(symbol);
    if (!h) return undefined;
    // The first candle sizes the lot step, so filters do not change with the replay position or a restart.
    return { priceDecimals: h.priceDecimals, referencePrice: h.firstClose, listedAt: h.firstOpenTime };
  }

  now(): number {
    return this.anchorMarket + Math.floor((this.clock() - this.anchorWall) * this.speed);
  }

  price(symbol: string, t = this.now()): number | undefined {
    const s = this.load(symbol);
    if (!s) return undefined;
    const i = candleIndexAt(s, t);
    if (i < 0) return undefined;
    const open = s.openTime[i]!;
    if (t >= open + s.intervalMs) return s.close[i]!;
    return this.pathOf(s, i)[Math.floor((t - open) / this.stepMs)]!;
  }

  walk(symbol: string, from: number, to: number, visit: (time: number, price: number) => void): void {
    const s = this.load(symbol);
    if (!s || to <= from) return;
    let t = (Math.floor(from / this.stepMs) + 1) * this.stepMs;
    if (t < s.openTime[0]!) t = s.openTime[0]!;
    for (; t <= to; t += this.stepMs) {
      const p = this.price(symbol, t);
      if (p !== undefined) visit(t, p);
    }
  }

  /** Points of candle i at the step resolution (the same rule as core's intrabarPrice), rounded to the tick. */
  private pathOf(s: CandleSeries, i: number): number[] {
    const cached = this.paths.get(s.symbol);
    if (cached && cached.index === i) return cached.path;
    const steps = Math.max(2, Math.round(s.intervalMs / this.stepMs) + 1);
    const candle = { openTime: s.openTime[i]!, open: s.open[i]!, high: s.high[i]!, low: s.low[i]!, close: s.close[i]!, volume: s.volume[i]! };
    const scale = 10 ** s.priceDecimals;
    const path = intrabarPath(candle, steps).map((p) => Math.round(p * scale) / scale);
    this.paths.set(s.symbol, { index: i, path });
    return path;
  }

  klines(symbol: string, q: KlineQuery): KlineRow[] {
    const s = this.load(symbol);
    if (!s) return [];
    const now = this.now();
    const lastIdx = candleIndexAt(s, now);
    if (lastIdx < 0) return [];
    const base = (i: number): KlineRow => this.baseRow(s, i, now);
    if (q.intervalMs === s.intervalMs) {
      let from: number;
      let to: number;
      if (q.startTime !== undefined) {
        from = Math.max(0, candleIndexAt(s, q.startTime - 1) + 1);
        to = Math.min(lastIdx, from + q.limit - 1);
        if (q.endTime !== undefined) to = Math.min(to, candleIndexAt(s, q.endTime));
      } else {
        to = q.endTime !== undefined ? Math.min(lastIdx, candleIndexAt(s, q.endTime)) : lastIdx;
        from = Math.max(0, to - q.limit + 1);
      }
      const rows: KlineRow[] = [];
      for (let i = from; i <= to; i++) rows.push(base(i));
      return rows;
    }
    return aggregate(s, q, lastIdx, base);
  }

  /** A base-interval kline; the candle still forming at `now` shows only the path walked so far. */
  private baseRow(s: CandleSeries, i: number, now: number): KlineRow {
    const d = s.priceDecimals;
    const open = s.openTime[i]!;
    let high = s.high[i]!;
    let low = s.low[i]!;
    let close = s.close[i]!;
    let volume = s.volume[i]!;
    if (now < open + s.intervalMs) {
      const path = this.pathOf(s, i);
      const upTo = Math.floor((now - open) / this.stepMs);
      high = -Infinity;
      low = Infinity;
      for (let k = 0; k <= upTo; k++) {
        high = Math.max(high, path[k]!);
        low = Math.min(low, path[k]!);
      }
      close = path[upTo]!;
      volume = (volume * (upTo + 1)) / path.length;
    }
    return klineRow(open, s.open[i]!, high, low, close, volume, open + s.intervalMs - 1, d);
  }
}

/** USDT symbol -> its USDC twin, for every USDC-margined symbol of the filters snapshot (what Binance lists). */
function usdcTwins(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [symbol, f] of Object.entries(filtersSnapshot().symbols)) {
    if (f.marginAsset === 'USDC' && symbol.endsWith('USDC')) out.set(`${symbol.slice(0, -4)}USDT`, symbol);
  }
  return out;
}

function klineRow(open: number, o: number, h: number, l: number, c: number, v: number, closeTime: number, d: number): KlineRow {
  const vol = Number(v.toFixed(8));
  const quote = (vol * c).toFixed(8);
  return [open, o.toFixed(d), h.toFixed(d), l.toFixed(d), c.toFixed(d), String(vol), closeTime, quote, 0, '0', '0', '0'];
}

/** Klines of a longer interval built from the base candles (aligned to the epoch like Binance's). */
function aggregate(s: CandleSeries, q: KlineQuery, lastIdx: number, base: (i: number) => KlineRow): KlineRow[] {
  if (q.intervalMs % s.intervalMs !== 0) return [];
  const bucketOf = (t: number): number => Math.floor(t / q.intervalMs) * q.intervalMs;
  const rows: KlineRow[] = [];
  const lastBucket = bucketOf(s.openTime[lastIdx]!);
  const endBucket = q.endTime !== undefined ? Math.min(lastBucket, bucketOf(q.endTime)) : lastBucket;
  let startBucket = q.startTime !== undefined ? bucketOf(q.startTime + q.intervalMs - 1) : endBucket - (q.limit - 1) * q.intervalMs;
  if (q.startTime !== undefined && q.startTime % q.intervalMs === 0) startBucket = q.startTime;
  let i = Math.max(0, candleIndexAt(s, startBucket - 1) + 1);
  while (i <= lastIdx && rows.length < q.limit) {
    const bucket = bucketOf(s.openTime[i]!);
    if (bucket > endBucket) break;
    const first = base(i);
    let [, o, h, l, c, v] = [0, Number(first[1]), Number(first[2]), Number(first[3]), Number(first[4]), Number(first[5])];
    i++;
    while (i <= lastIdx && bucketOf(s.openTime[i]!) === bucket) {
      const r = base(i);
      h = Math.max(h, Number(r[2]));
      l = Math.min(l, Number(r[3]));
      c = Number(r[4]);
      v += Number(r[5]);
      i++;
    }
    rows.push(klineRow(bucket, o, h, l, c, v, bucket + q.intervalMs - 1, s.priceDecimals));
  }
  return rows;
}

/**
 * Prices set by hand through the admin API (tests, demos). Klines are built from the prices set, one
 * candle per `intervalMs` of wall-clock time; an interval without a price gets a flat candle at the last
 * price (volume 0), as an exchange has a candle for every interval.
 */
export class ManualFeed implements MarketFeed {
  readonly kind = 'manual' as const;
  private readonly prices = new Map<string, number>();
  private readonly candles = new Map<string, Candle[]>();
  private readonly listedAt = new Map<string, number>();
  /** Fixed at listing, like an exchange's tick: later prices do not change the filters. */
  private readonly decimals = new Map<string, number>();

  constructor(
    private readonly clock: () => number,
    initial: Record<string, number> = {},
    private readonly intervalMs = 300_000,
  ) {
    for (const [symbol, price] of Object.entries(initial)) this.setPrice(symbol, price);
  }

  setPrice(symbol: string, price: number): void {
    const t = this.clock();
    if (!this.listedAt.has(symbol)) {
      this.listedAt.set(symbol, t);
      this.decimals.set(symbol, decimalsFor(price));
    }
    const scale = 10 ** this.decimals.get(symbol)!;
    price = Math.round(price * scale) / scale;
    const list = this.rolledForward(symbol);
    this.prices.set(symbol, price);
    const bucket = this.bucketOf(t);
    const last = list[list.length - 1];
    if (last && last.openTime === bucket) {
      last.high = Math.max(last.high, price);
      last.low = Math.min(last.low, price);
      last.close = price;
    } else {
      list.push({ openTime: bucket, open: price, high: price, low: price, close: price, volume: 0 });
      if (list.length > MANUAL_KEPT_CANDLES) list.shift();
    }
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.prices);
  }

  symbols(): string[] {
    return [...this.prices.keys()];
  }

  describe(symbol: string): SymbolDescription | undefined {
    const p = this.prices.get(symbol);
    if (p === undefined) return undefined;
    return { priceDecimals: this.decimals.get(symbol)!, referencePrice: p, listedAt: this.listedAt.get(symbol)! };
  }

  now(): number {
    return this.clock();
  }

  price(symbol: string): number | undefined {
    return this.prices.get(symbol);
  }

  walk(): void {
    // Manual prices jump; the engine checks triggers when a price is set.
  }

  klines(symbol: string, q: KlineQuery): KlineRow[] {
    if (!this.prices.has(symbol)) return [];
    return klinesFromCandles(this.rolledForward(symbol), q, this.intervalMs, this.decimals.get(symbol)!);
  }

  private bucketOf(t: number): number {
    return Math.floor(t / this.intervalMs) * this.intervalMs;
  }

  /** The symbol's candles with a flat candle for every interval since the last price, up to the current one. */
  private rolledForward(symbol: string): Candle[] {
    let list = this.candles.get(symbol);
    if (!list) {
      list = [];
      this.candles.set(symbol, list);
    }
    const last = list[list.length - 1];
    if (!last) return list;
    const current = this.bucketOf(this.clock());
    const from = Math.max(last.openTime + this.intervalMs, current - (MANUAL_KEPT_CANDLES - 1) * this.intervalMs);
    for (let t = from; t <= current; t += this.intervalMs) {
      list.push({ openTime: t, open: last.close, high: last.close, low: last.close, close: last.close, volume: 0 });
    }
    if (list.length > MANUAL_KEPT_CANDLES) list.splice(0, list.length - MANUAL_KEPT_CANDLES);
    return list;
  }
}

const MANUAL_KEPT_CANDLES = 1500;

/**
 * Binance's klines answer from an in-memory list of base-interval candles (oldest first): with `startTime`
 * the first `limit` from there, otherwise the last `limit` up to `endTime`. A longer interval that is a
 * multiple of the base one is aggregated (aligned to the epoch like Binance's).
 */
export function klinesFromCandles(list: readonly Candle[], q: KlineQuery, baseMs: number, decimals: number): KlineRow[] {
  if (q.intervalMs % baseMs !== 0) return [];
  const pick = (items: readonly Candle[]): Candle[] => {
    const inRange = items.filter((c) => (q.startTime === undefined || c.openTime >= q.startTime) && (q.endTime === undefined || c.openTime <= q.endTime));
    return q.startTime !== undefined ? inRange.slice(0, q.limit) : inRange.slice(-q.limit);
  };
  const row = (c: Candle, t: number): KlineRow => klineRow(t, c.open, c.high, c.low, c.close, c.volume, t + q.intervalMs - 1, decimals);
  if (q.intervalMs === baseMs) return pick(list).map((c) => row(c, c.openTime));
  const buckets: Candle[] = [];
  for (const c of list) {
    const t = Math.floor(c.openTime / q.intervalMs) * q.intervalMs;
    const b = buckets[buckets.length - 1];
    if (b && b.openTime === t) {
      b.high = Math.max(b.high, c.high);
      b.low = Math.min(b.low, c.low);
      b.close = c.close;
      b.volume += c.volume;
    } else {
      buckets.push({ ...c, openTime: t });
    }
  }
  return pick(buckets).map((b) => row(b, b.openTime));
}

/** About six significant digits of tick for a hand-set price (BTC 0.1, ETH 0.01), like Binance listings. */
function decimalsFor(price: number): number {
  return Math.min(8, Math.max(0, 5 - Math.floor(Math.log10(Math.max(price, 1e-12)))));
}
