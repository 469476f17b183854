import pino, { type Logger } from 'pino';
import { BinanceFuturesAdapter } from '../adapter.js';
import { MarketMirror } from '../streams/market-mirror.js';
import type { SymbolRules } from '../types.js';
import { klinesFromCandles, type KlineQuery, type KlineRow, type MarketFeed, type SymbolDescription } from './feed.js';
import { decimalsOfStep } from './symbols.js';

export interface LiveFeedOptions {
  /** Upstream REST base, e.g. https://fapi.binance.com (public endpoints only: no key). */
  restUrl: string;
  /** Upstream stream base, e.g. wss://fstream.binance.com. */
  wsUrl: string;
  symbols: string[];
  /** Wall clock (market time is the wall time in a live feed). */
  clock: () => number;
  /** 5-minute candles kept per symbol (the klines endpoint serves these). */
  history?: number;
  /** A symbol without an upstream mark price for this long is stale (its price is still the last one). */
  staleAfterMs?: number;
  log?: Logger;
}

const INTERVAL = '5m';
const INTERVAL_MS = 300_000;
/** Mark points kept per symbol for the engine's walk (it asks for the last quarter second or so). */
const KEPT_POINTS = 600;
/** 499 klines weigh 2 on Binance (500 weigh 5): the seed of 45 symbols costs 90 of the 2400 a minute. */
const SEED_KLINES = 499;

interface Point {
  t: number;
  price: number;
}

/**
 * Prices, marks and 5-minute klines of an upstream Binance USD-M (or a stand-in such as another local
 * exchange), for paper trading on today's market: seeded from its public REST API, then kept current by its
 * kline and mark price streams (`MarketMirror`: gaps fetched over REST, quiet connections reconnected). The
 * price of a symbol is its latest mark price; every mark is kept as a point of the intrabar path, so the
 * engine checks stops at each of them. Symbol rules are the upstream's own (its exchangeInfo).
 */
export class LiveFeed implements MarketFeed {
  readonly kind = 'live' as const;
  private readonly points = new Map<string, Point[]>();
  private readonly decimals = new Map<string, number>();
  /** Called after each upstream update of a symbol (the stream server forwards it at once). */
  onUpdate: ((symbol: string) => void) | null = null;

  private constructor(
    private readonly mirror: MarketMirror,
    private readonly rulesBySymbol: Map<string, SymbolRules>,
    private readonly clock: () => number,
  ) {
    for (const [symbol, r] of rulesBySymbol) this.decimals.set(symbol, decimalsOfStep(r.tickSize));
    mirror.on('mark', (symbol, m) => {
      const list = this.points.get(symbol) ?? [];
      // Market time is this clock: points are kept in the order they arrive.
      list.push({ t: Math.max(this.clock(), list[list.length - 1]?.t ?? 0), price: m.price });
      if (list.length > KEPT_POINTS) list.splice(0, list.length - KEPT_POINTS);
      this.points.set(symbol, list);
      this.onUpdate?.(symbol);
    });
    mirror.on('forming', (symbol) => this.onUpdate?.(symbol));
    mirror.on('candles', (symbol) => this.onUpdate?.(symbol));
  }

  /** Connects to the upstream: its rules, marks and klines for `symbols`, then its streams. */
  static async start(opts: LiveFeedOptions): Promise<LiveFeed> {
    const log = opts.log ?? pino({ level: 'warn' });
    const upstream = new BinanceFuturesAdapter({ venue: 'upstream', baseUrl: opts.restUrl, apiKey: '', apiSecret: '', timeoutMs: 10_000, weightLimitPerMinute: 2400 });
    let info: Map<string, SymbolRules>;
    let marks: Map<string, number>;
    try {
      [info, marks] = await Promise.all([upstream.exchangeInfo(), upstream.markPrices()]);
    } catch (e) {
      throw new Error(`live market data: upstream ${opts.restUrl} did not answer: ${(e as Error).message}`);
    }
    const missing = opts.symbols.filter((s) => !info.has(s));
    if (missing.length > 0) throw new Error(`live market data: upstream ${opts.restUrl} does not list ${missing.join(', ')}`);
    const rules = new Map(opts.symbols.map((s) => [s, info.get(s)!]));
    const mirror = new MarketMirror({
      rest: upstream,
      stream: { wsUrl: opts.wsUrl },
      interval: INTERVAL,
      intervalMs: INTERVAL_MS,
      history: opts.history ?? 1500,
      seedLimit: SEED_KLINES,
      staleAfterMs: opts.staleAfterMs ?? 10_000,
      log,
    });
    const feed = new LiveFeed(mirror, rules, opts.clock);
    const now = opts.clock();
    for (const s of opts.symbols) {
      const m = marks.get(s);
      if (m !== undefined && m > 0) feed.points.set(s, [{ t: now, price: m }]);
    }
    try {
      await mirror.add(opts.symbols);
    } catch (e) {
      mirror.close();
      throw new Error(`live market data: ${(e as Error).message}`);
    }
    return feed;
  }

  rules(symbol: string): SymbolRules | undefined {
    return this.rulesBySymbol.get(symbol);
  }

  symbols(): string[] {
    return [...this.rulesBySymbol.keys()];
  }

  describe(symbol: string): SymbolDescription | undefined {
    const first = this.points.get(symbol)?.[0];
    const d = this.decimals.get(symbol);
    if (!first || d === undefined) return undefined;
    return { priceDecimals: d, referencePrice: first.price, listedAt: 0 };
  }

  now(): number {
    return this.clock();
  }

  price(symbol: string, t?: number): number | undefined {
    const list = this.points.get(symbol);
    if (!list || list.length === 0) return undefined;
    if (t === undefined) return list[list.length - 1]!.price;
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.t <= t) return list[i]!.price;
    return list[0]!.price;
  }

  walk(symbol: string, from: number, to: number, visit: (time: number, price: number) => void): void {
    for (const p of this.points.get(symbol) ?? []) if (p.t > from && p.t <= to) visit(p.t, p.price);
  }

  klines(symbol: string, q: KlineQuery): KlineRow[] {
    const book = this.mirror.book(symbol);
    const d = this.decimals.get(symbol);
    if (!book || d === undefined) return [];
    const list = book.forming ? [...book.closed, book.forming] : book.closed;
    return klinesFromCandles(list, q, INTERVAL_MS, d);
  }

  /** Per symbol: candles held, age of the last mark, stale flag; and the upstream connections. */
  status(): { symbols: Record<string, unknown>; connections: unknown[]; malformed: number } {
    const now = Date.now();
    return {
      symbols: Object.fromEntries(this.symbols().map((s) => [s, this.mirror.symbolStatus(s, now)])),
      connections: this.mirror.connections(),
      malformed: this.mirror.malformed,
    };
  }

  close(): void {
    this.mirror.close();
  }
}
