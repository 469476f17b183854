import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Candle } from '../../core/types.js';
import { BinanceCode, ExchangeError } from '../errors.js';
import { CandleBook } from './candle-book.js';
import { MarketStreamClient, type ConnectionStatus, type MarketStreamClientOptions } from './market-stream-client.js';
import type { KlineUpdate, MarkUpdate } from './payloads.js';

/** The REST side a mirror needs: Binance's klines (newest `limit`, the last one still forming). */
export interface KlinesSource {
  klines(symbol: string, interval: string, limit: number): Promise<Candle[]>;
}

export interface MarketMirrorOptions {
  rest: KlinesSource;
  /** Where the streams come from (wsUrl, testnet, heartbeat); see MarketStreamClient. */
  stream: Omit<MarketStreamClientOptions, 'interval' | 'log'>;
  interval: string;
  intervalMs: number;
  /** Closed candles kept per symbol. */
  history: number;
  /** Klines fetched to seed a symbol (default history + 1: the book full at once). */
  seedLimit?: number;
  /** A symbol without a mark price for this long is stale. */
  staleAfterMs: number;
  /** A connection without any message for this long is reconnected (default: twice staleAfterMs). */
  quietReconnectMs?: number;
  /** REST requests in flight at once while seeding. */
  seedConcurrency?: number;
  log: Logger;
}

export interface MirroredMark {
  price: number;
  /** The exchange's event time. */
  eventTime: number;
  /** Wall time it arrived. */
  receivedAt: number;
}

export interface MarketMirrorEvents {
  /** Closed candles joined to a symbol's book, oldest first; `reset` when they replaced it (seed or unbridgeable gap). */
  candles: [symbol: string, candles: Candle[], reset: boolean, receivedAt: number];
  forming: [symbol: string, candle: Candle];
  mark: [symbol: string, mark: MirroredMark];
  /** The symbol's stream went quiet (true) or came back (false). */
  stale: [symbol: string, stale: boolean];
}

interface SymbolState {
  book: CandleBook;
  mark: MirroredMark | null;
  /** Since when the symbol waits for its first mark, or when the last one came. */
  markClock: number;
  stale: boolean;
  /** A REST fetch is joining candles: stream closes wait in `pending` until it is done. */
  syncing: boolean;
  pending: KlineUpdate[];
  /** Why the book cannot be trusted right now (a failed fetch), or null. */
  problem: string | null;
  gapFills: number;
  /** After a failed fetch, no new one before this wall time (doubling back-off). */
  retryAt: number;
  retryDelayMs: number;
}

const FIRST_RETRY_MS = 1_000;
/** How late (exchange time) a candle's closing update may come after the candle's end before it counts as lost. */
const CLOSE_GRACE_MS = 3_000;
/** Binance's largest klines page. */
const MAX_KLINES = 1500;
const MAX_RETRY_MS = 30_000;

export interface MirrorSymbolStatus {
  candles: number;
  lastClosedOpenTime: number | null;
  /** Since the last mark price (or since subscribing, before the first). */
  silentMs: number;
  stale: boolean;
  problem: string | null;
  gapFills: number;
}

/**
 * A live copy of an exchange's candles and mark prices for a set of symbols: seeded over REST, then kept up
 * by the kline and mark price streams. Whenever an update shows closed candles missing (a reconnect, a
 * dropped message, a stall), they are fetched over REST and joined, so the book always equals what a batch
 * REST fetch would return. A symbol whose mark price stops is flagged stale, and a connection that carries
 * nothing for long is reconnected. Used by the worker's market-data service and by the local exchange's
 * live feed (against Binance, or a stand-in).
 */
export class MarketMirror extends EventEmitter<MarketMirrorEvents> {
  private readonly symbols = new Map<string, SymbolState>();
  private readonly client: MarketStreamClient;
  private readonly watchdog: NodeJS.Timeout;
  private closed = false;
  malformed = 0;

  constructor(private readonly opts: MarketMirrorOptions) {
    super();
    this.client = new MarketStreamClient({ ...opts.stream, interval: opts.interval, log: opts.log });
    this.client.on('kline', (u) => this.onKline(u));
    this.client.on('mark', (u, at) => this.onMark(u, at));
    this.client.on('malformed', (reason) => {
      this.malformed++;
      opts.log.warn({ reason }, 'malformed market stream message dropped');
    });
    this.client.on('reconnected', (symbols) => opts.log.info({ symbols: symbols.length }, 'market stream reconnected; missed candles are fetched over REST'));
    this.watchdog = setInterval(() => this.checkStale(), Math.min(1000, Math.max(50, opts.staleAfterMs / 4)));
    this.watchdog.unref();
  }

  /** Seeds the symbols not yet mirrored over REST and subscribes their streams. Resolves when seeded. */
  async add(symbols: readonly string[]): Promise<void> {
    const fresh = [...new Set(symbols)].filter((s) => !this.symbols.has(s));
    if (fresh.length === 0 || this.closed) return;
    const now = Date.now();
    for (const s of fresh) {
      this.symbols.set(s, { book: new CandleBook(this.opts.intervalMs, this.opts.history), mark: null, markClock: now, stale: false, syncing: true, pending: [], problem: null, gapFills: 0, retryAt: 0, retryDelayMs: FIRST_RETRY_MS });
    }
    // Subscribe first: closes arriving while the REST seed is in flight wait in `pending`.
    this.client.subscribe(fresh);
    let next = 0;
    const limit = this.opts.seedConcurrency ?? 8;
    await Promise.all(Array.from({ length: Math.min(limit, fresh.length) }, async () => {
      while (next < fresh.length) await this.fetch(fresh[next++]!, this.opts.seedLimit ?? this.fullFetch());
    }));
  }

  has(symbol: string): boolean {
    return this.symbols.has(symbol);
  }

  book(symbol: string): CandleBook | undefined {
    return this.symbols.get(symbol)?.book;
  }

  mark(symbol: string): MirroredMark | null {
    return this.symbols.get(symbol)?.mark ?? null;
  }

  isStale(symbol: string): boolean {
    return this.symbols.get(symbol)?.stale ?? true;
  }

  problem(symbol: string): string | null {
    const s = this.symbols.get(symbol);
    if (!s) return 'not mirrored';
    return s.problem;
  }

  symbolStatus(symbol: string, now = Date.now()): MirrorSymbolStatus | null {
    const s = this.symbols.get(symbol);
    if (!s) return null;
    return {
      candles: s.book.closed.length,
      lastClosedOpenTime: s.book.last?.openTime ?? null,
      silentMs: now - s.markClock,
      stale: s.stale,
      problem: s.problem,
      gapFills: s.gapFills,
    };
  }

  mirrored(): string[] {
    return [...this.symbols.keys()];
  }

  connections(): ConnectionStatus[] {
    return this.client.status();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.watchdog);
    this.client.close();
    this.removeAllListeners();
  }

  private onMark(u: MarkUpdate, receivedAt: number): void {
    const s = this.symbols.get(u.symbol);
    if (!s) return;
    s.mark = { price: u.price, eventTime: u.eventTime, receivedAt };
    s.markClock = receivedAt;
    if (s.stale) this.setStale(u.symbol, s, false);
    this.emit('mark', u.symbol, s.mark);
    // The mark's event time is the exchange's clock: when it is well past the close of the candle after the
    // last closed one, that close was lost (a stall, a dropped message) even if no kline update says so.
    const last = s.book.last;
    if (!last || s.syncing || Date.now() < s.retryAt) return;
    const missing = Math.floor((u.eventTime - CLOSE_GRACE_MS - last.openTime) / this.opts.intervalMs) - 1;
    if (missing > 0) this.fill(u.symbol, s, missing);
  }

  private onKline(u: KlineUpdate): void {
    const s = this.symbols.get(u.symbol);
    if (!s) return;
    if (s.syncing) {
      if (u.closed) s.pending.push(u);
      else s.book.forming = u.candle;
      return;
    }
    const r = s.book.apply(u.candle, u.closed);
    if (r.kind === 'appended') this.emit('candles', u.symbol, [r.candle], false, Date.now());
    else if (r.kind === 'forming') this.emit('forming', u.symbol, u.candle);
    else if (r.kind === 'gap' || r.kind === 'unseeded') {
      if (Date.now() < s.retryAt) return;
      if (u.closed) s.pending.push(u);
      this.fill(u.symbol, s, r.kind === 'gap' ? r.missing : this.opts.history);
    }
  }

  /** Fetches `missing` closed candles (and the forming one) over REST. */
  private fill(symbol: string, s: SymbolState, missing: number): void {
    s.gapFills++;
    this.opts.log.info({ symbol, missing }, 'candles missing from the stream: fetching them over REST');
    s.syncing = true;
    void this.fetch(symbol, Math.min(this.fullFetch(), missing + 2));
  }

  /** Fetches the newest `limit` klines and joins them, then replays the closes that arrived meanwhile. */
  private async fetch(symbol: string, limit: number): Promise<void> {
    const s = this.symbols.get(symbol);
    if (!s) return;
    s.syncing = true;
    try {
      let rows = await this.opts.rest.klines(symbol, this.opts.interval, limit);
      // More closed while the short fetch was in flight: take the whole history rather than lose it.
      if (!s.book.joins(rows, true) && limit < this.fullFetch()) rows = await this.opts.rest.klines(symbol, this.opts.interval, this.fullFetch());
      if (this.closed) return;
      const { appended, reset } = s.book.merge(rows, true);
      s.problem = null;
      if (appended.length > 0) {
        s.retryDelayMs = FIRST_RETRY_MS;
        this.emit('candles', symbol, appended, reset, Date.now());
      } else {
        // Nothing new (the exchange has no newer candle, e.g. a replay past its data): do not ask again at once.
        this.backOff(s);
      }
    } catch (e) {
      s.problem = `klines over REST failed: ${(e as Error).message}`;
      const wait = rateLimitWaitMs(e);
      // A rate limit names its wait (Retry-After, or the adapter's own hold): ask again right after it, not after
      // a doubling backoff (after a worker restart during a 429 burst the candles came 4 s after the limit lifted).
      if (wait !== null) s.retryAt = Date.now() + wait;
      else this.backOff(s);
      this.opts.log.warn({ symbol, err: (e as Error).message, retryInMs: s.retryAt - Date.now() }, 'klines over REST failed; retried with a later stream update');
      s.pending = [];
      s.syncing = false;
      return;
    }
    s.syncing = false;
    const waiting = s.pending;
    s.pending = [];
    for (const u of waiting) this.onKline(u);
  }

  private backOff(s: SymbolState): void {
    s.retryAt = Date.now() + s.retryDelayMs;
    s.retryDelayMs = Math.min(MAX_RETRY_MS, s.retryDelayMs * 2);
  }

  /** Klines that fill a whole book (the last one is still forming). */
  private fullFetch(): number {
    return Math.min(MAX_KLINES, this.opts.history + 1);
  }

  private checkStale(): void {
    const now = Date.now();
    for (const [symbol, s] of this.symbols) {
      const stale = now - s.markClock > this.opts.staleAfterMs;
      if (stale !== s.stale) this.setStale(symbol, s, stale);
    }
    this.client.reconnectQuiet(this.opts.quietReconnectMs ?? 2 * this.opts.staleAfterMs, now);
  }

  private setStale(symbol: string, s: SymbolState, stale: boolean): void {
    s.stale = stale;
    if (stale) this.opts.log.warn({ symbol, silentMs: Date.now() - s.markClock }, 'market stream stale: no mark price');
    else this.opts.log.info({ symbol }, 'market stream fresh again');
    this.emit('stale', symbol, stale);
  }
}

/** How long a rate-limited request said to wait (429 / 418 from the venue, or the adapter holding requests back); null otherwise. */
function rateLimitWaitMs(e: unknown): number | null {
  if (!(e instanceof ExchangeError) || e.retryAfterMs === undefined) return null;
  const limited = e.code === BinanceCode.TOO_MANY_REQUESTS || e.httpStatus === 429 || e.httpStatus === 418;
  return limited ? e.retryAfterMs : null;
}
