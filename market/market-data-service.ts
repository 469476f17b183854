import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { CandleError, FEATURE_NAMES, FeatureBuilder } from '../core/features.js';
import type { Candle } from '../core/types.js';
import type { CandleSource, ClosedCandles } from '../activities/market-data.js';
import { MarketMirror, type KlinesSource, type MirroredMark } from '../exchange/streams/market-mirror.js';
import type { ConnectionStatus, MarketStreamClientOptions } from '../exchange/streams/market-stream-client.js';

const INTERVAL = '5m';
const INTERVAL_MS = 300_000;

export interface MarketDataOptions {
  /** REST klines (the exchange adapter): seeds each symbol and fills what a stream missed. */
  rest: KlinesSource;
  /** The exchange's streams: `wsUrl` (the local exchange's `ws://…`), or Binance's (default) / testnet. */
  stream: Omit<MarketStreamClientOptions, 'interval' | 'log'>;
  /** Closed candles kept per symbol (what the model needs plus a margin). */
  history: number;
  /** Feature rows kept per symbol: the model's sequence window (1 for a row model). */
  featureWindow: number;
  /** No mark price for this long: the symbol is stale, its signals HOLD and /health warns. */
  staleAfterMs: number;
  log: Logger;
}

/** A closed candle joined to a symbol's store, with its feature row ready. */
export interface CandleClosedEvent {
  symbol: string;
  candle: Candle;
  /** The candle's feature row (null during warm-up or after a refused candle). */
  features: Float32Array | null;
  /** Wall time the closing update (or the REST answer that filled a gap) arrived. */
  receivedAt: number;
  /** Wall time the row was ready. */
  readyAt: number;
}

export interface MarkEvent {
  symbol: string;
  price: number;
  eventTime: number;
  receivedAt: number;
}

export interface MarketDataEvents {
  candleClosed: [CandleClosedEvent];
  mark: [MarkEvent];
  stale: [symbol: string, stale: boolean];
}

export interface MarketDataStatus {
  symbols: number;
  /** Symbols without a mark price for longer than the stale limit: they HOLD. */
  stale: string[];
  /** Symbols whose candles cannot be traded on now, with the reason. */
  problems: Record<string, string>;
  connections: ConnectionStatus[];
  gapFills: number;
  malformed: number;
}

interface SymbolFeatures {
  builder: FeatureBuilder;
  /** The newest rows, oldest first, at most `featureWindow`. */
  rows: Float32Array[];
  /** Open time of the first candle the builder was fed (the features depend on everything since). */
  origin: number | null;
  problem: string | null;
}

/**
 * The worker's market data: one `MarketMirror` of the exchange's kline and mark price streams for every
 * symbol the worker trades, shared by all loops. Each symbol keeps its closed candles (exactly what a batch
 * REST fetch returns) and a FeatureBuilder fed once per closed candle, so a tick reads the latest feature
 * rows instead of recomputing ~420 candles. Emits `candleClosed` (row ready) and `mark` for the event-driven
 * loop, and `status()` for /health and the signal path: a stale symbol's candles come with a problem, which
 * turns its signal into HOLD.
 */
export class MarketDataService extends EventEmitter<MarketDataEvents> implements CandleSource {
  private readonly mirror: MarketMirror;
  private readonly features = new Map<string, SymbolFeatures>();

  constructor(private readonly opts: MarketDataOptions) {
    super();
    this.mirror = new MarketMirror({ rest: opts.rest, stream: opts.stream, interval: INTERVAL, intervalMs: INTERVAL_MS, history: opts.history, staleAfterMs: opts.staleAfterMs, log: opts.log });
    this.mirror.on('candles', (symbol, candles, reset, receivedAt) => this.onCandles(symbol, candles, reset, receivedAt));
    this.mirror.on('mark', (symbol, m) => this.emit('mark', markEvent(symbol, m)));
    this.mirror.on('stale', (symbol, stale) => this.emit('stale', symbol, stale));
  }

  /** Seeds the symbols over REST and subscribes their streams; resolves when every seed has answered. */
  async start(symbols: readonly string[]): Promise<void> {
    await this.mirror.add(symbols);
  }

  /** The CandleSource of the signal activity. A symbol not yet followed is added (seeded) on first use. */
  async closedCandles(symbol: string): Promise<ClosedCandles> {
    if (!this.mirror.has(symbol)) await this.mirror.add([symbol]);
    const book = this.mirror.book(symbol)!;
    const candles = book.closed.slice();
    const f = this.features.get(symbol);
    const rows = f && f.rows.length >= this.opts.featureWindow ? concatRows(f.rows.slice(-this.opts.featureWindow)) : undefined;
    return { candles, problem: this.problemOf(symbol), ...(rows ? { features: rows } : {}) };
  }

  /** The latest `featureWindow` rows of a symbol, back to back, and the open time of the candle they end at. */
  latestFeatures(symbol: string): { rows: Float32Array; candleTime: number; origin: number } | null {
    const f = this.features.get(symbol);
    const last = this.mirror.book(symbol)?.last;
    if (!f || !last || f.origin === null || f.rows.length < this.opts.featureWindow) return null;
    return { rows: concatRows(f.rows.slice(-this.opts.featureWindow)), candleTime: last.openTime, origin: f.origin };
  }

  /** The symbol's latest mark price from the stream, or null before the first. */
  latestMark(symbol: string): MarkEvent | null {
    const m = this.mirror.mark(symbol);
    return m ? markEvent(symbol, m) : null;
  }

  /** Whether the symbol's streams are followed (seeded and subscribed, or being). */
  follows(symbol: string): boolean {
    return this.mirror.has(symbol);
  }

  isStale(symbol: string): boolean {
    return this.mirror.isStale(symbol);
  }

  status(): MarketDataStatus {
    const problems: Record<string, string> = {};
    const stale: string[] = [];
    let gapFills = 0;
    for (const symbol of this.mirror.mirrored()) {
      const p = this.problemOf(symbol);
      if (p) problems[symbol] = p;
      if (this.mirror.isStale(symbol)) stale.push(symbol);
      gapFills += this.mirror.symbolStatus(symbol)?.gapFills ?? 0;
    }
    return { symbols: this.mirror.mirrored().length, stale, problems, connections: this.mirror.connections(), gapFills, malformed: this.mirror.malformed };
  }

  close(): void {
    this.mirror.close();
    this.removeAllListeners();
  }

  /** Why the symbol's candles must not be traded on now, or null. */
  private problemOf(symbol: string): string | null {
    const mirrored = this.mirror.problem(symbol);
    if (mirrored) return mirrored;
    const s = this.mirror.symbolStatus(symbol);
    const book = this.mirror.book(symbol);
    if (!s || !book) return 'not followed';
    if (s.stale) return `stale market stream: no mark price for ${Math.round(s.silentMs / 1000)} s`;
    const last = book.last;
    if (!last) return 'no closed candle yet';
    if (book.forming && book.forming.openTime - last.openTime !== INTERVAL_MS) {
      return `stale data: last closed candle ${new Date(last.openTime).toISOString()} does not precede the forming one (missing candles are being fetched)`;
    }
    const f = this.features.get(symbol);
    if (f?.problem) return f.problem;
    if (book.closed.length < this.opts.history) return `only ${book.closed.length} of ${this.opts.history} candles of history`;
    return null;
  }

  private onCandles(symbol: string, candles: Candle[], reset: boolean, receivedAt: number): void {
    let f = this.features.get(symbol);
    if (!f || reset) {
      f = { builder: new FeatureBuilder({ intervalMs: INTERVAL_MS }), rows: [], origin: candles[0]?.openTime ?? null, problem: null };
      this.features.set(symbol, f);
    }
    for (const candle of candles) {
      let row: Float32Array | null = null;
      try {
        row = f.builder.push(candle);
        f.problem = null;
      } catch (e) {
        if (!(e instanceof CandleError)) throw e;
        // The mirror keeps candles contiguous and checked; a refusal here is a defect to surface, not trade on.
        f.problem = `invalid candles: ${e.message}`;
        this.opts.log.error({ symbol, err: e.message }, 'feature builder refused a candle');
      }
      if (row) {
        f.rows.push(row);
        if (f.rows.length > this.opts.featureWindow) f.rows.shift();
      }
      if (!reset) this.emit('candleClosed', { symbol, candle, features: row, receivedAt, readyAt: Date.now() });
    }
  }
}

function markEvent(symbol: string, m: MirroredMark): MarkEvent {
  return { symbol, price: m.price, eventTime: m.eventTime, receivedAt: m.receivedAt };
}

function concatRows(rows: Float32Array[]): Float32Array {
  const n = FEATURE_NAMES.length;
  const out = new Float32Array(rows.length * n);
  rows.forEach((r, i) => out.set(r, i * n));
  return out;
}
