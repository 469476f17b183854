import { EventEmitter } from 'node:events';
import { WebsocketClient, type WSClientConfigurableOptions } from 'binance';
import type { Logger } from 'pino';
import { readStreamEvent, type KlineUpdate, type MarkUpdate } from './payloads.js';

/** Binance USD-M: "A single connection can listen to a maximum of 200 streams." */
export const MAX_STREAMS_PER_CONNECTION = 200;
/** Kline and mark price: two streams per symbol. */
const STREAMS_PER_SYMBOL = 2;
/** The binance client routes kline and mark price topics of the `usdm` key to this connection (`/market/stream`). */
const MARKET_WS_KEY = 'usdmMarket';

export interface MarketStreamClientOptions {
  /**
   * Base URL of the stream server, e.g. the local exchange's `ws://127.0.0.1:8100`; the binance client adds
   * Binance's path (`/market/stream`). Default: Binance USD-M (`wss://fstream.binance.com`).
   */
  wsUrl?: string;
  testnet?: boolean;
  /** Kline interval subscribed, e.g. `5m`. */
  interval: string;
  /** `1s` subscribes `<symbol>@markPrice@1s`, `3s` the plain `<symbol>@markPrice`. */
  markSpeed?: '1s' | '3s';
  maxStreamsPerConnection?: number;
  /** The binance client's heartbeat: a ping every `pingIntervalMs`, reconnect when no pong within `pongTimeoutMs`. */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  reconnectDelayMs?: number;
  log: Logger;
}

export interface ConnectionStatus {
  symbols: number;
  connected: boolean;
  /** Reconnections after the first connection. */
  reconnects: number;
  /** Wall time of the last data message, 0 before the first. */
  lastMessageAt: number;
}

interface Shard {
  client: WebsocketClient;
  symbols: Set<string>;
  /** Topics waiting for the next SUBSCRIBE. */
  pending: string[];
  flush: NodeJS.Timeout | null;
  reconnects: number;
  lastMessageAt: number;
}

export interface MarketStreamClientEvents {
  kline: [update: KlineUpdate, receivedAt: number];
  mark: [update: MarkUpdate, receivedAt: number];
  /** A connection came back (the binance client has resubscribed its topics): its symbols may have missed events. */
  reconnected: [symbols: string[]];
  /** A message that is not a well-formed market event; it is dropped. */
  malformed: [reason: string];
}

/**
 * Kline and mark price streams of many symbols over the `binance` package's WebsocketClient, which keeps
 * each connection alive (ping / pong), reconnects a dropped one and resubscribes its topics. What it does
 * not do, this class adds:
 * - more symbols than one connection may carry: Binance allows 200 streams per connection and the
 *   WebsocketClient puts every topic of a key on one connection, so symbols are spread over several clients;
 * - a connection that stays open but goes quiet (its pongs still arrive) is never noticed by the client:
 *   `reconnectQuiet` terminates it so the client reconnects and resubscribes;
 * - strict reading of every event (`readStreamEvent`): malformed ones are dropped, never delivered.
 */
export class MarketStreamClient extends EventEmitter<MarketStreamClientEvents> {
  private readonly shards: Shard[] = [];
  private readonly shardOf = new Map<string, Shard>();
  private readonly perShard: number;
  private closed = false;

  constructor(private readonly opts: MarketStreamClientOptions) {
    super();
    this.perShard = Math.max(1, Math.floor((opts.maxStreamsPerConnection ?? MAX_STREAMS_PER_CONNECTION) / STREAMS_PER_SYMBOL));
  }

  /** Subscribes the symbols not yet subscribed (idempotent). */
  subscribe(symbols: readonly string[]): void {
    if (this.closed) return;
    const added = new Map<Shard, string[]>();
    for (const symbol of symbols) {
      if (this.shardOf.has(symbol)) continue;
      const shard = this.shards.find((s) => s.symbols.size < this.perShard) ?? this.newShard();
      shard.symbols.add(symbol);
      this.shardOf.set(symbol, shard);
      added.set(shard, [...(added.get(shard) ?? []), symbol]);
    }
    for (const [shard, list] of added) {
      shard.pending.push(...list.flatMap((s) => this.topicsOf(s)));
      // Symbols added one by one within a few milliseconds go out as one SUBSCRIBE: Binance closes a
      // connection that sends more than 10 messages a second.
      shard.flush ??= setTimeout(() => this.flush(shard), 20);
    }
  }

  private flush(shard: Shard): void {
    shard.flush = null;
    const topics = shard.pending.splice(0);
    if (this.closed || topics.length === 0) return;
    // Resolves once sent; connection failures are retried by the client itself.
    shard.client.subscribe(topics, 'usdm').catch((e: unknown) => this.opts.log.warn({ err: String(e) }, 'stream subscribe failed; the client retries on reconnect'));
  }

  subscribed(symbol: string): boolean {
    return this.shardOf.has(symbol);
  }

  /** Terminates connections that have carried no data for `quietMs` while claiming to be open; returns how many. */
  reconnectQuiet(quietMs: number, now = Date.now()): number {
    let n = 0;
    for (const shard of this.shards) {
      const since = shard.lastMessageAt || 0;
      if (since === 0 || now - since < quietMs) continue;
      const ws = shard.client.getWsStore().getWs(MARKET_WS_KEY as never) as { terminate?: () => void } | undefined;
      if (!ws?.terminate) continue;
      this.opts.log.warn({ symbols: shard.symbols.size, quietMs: now - since }, 'market stream quiet: reconnecting');
      shard.lastMessageAt = now; // one attempt per quiet period
      ws.terminate();
      n++;
    }
    return n;
  }

  status(): ConnectionStatus[] {
    return this.shards.map((s) => ({ symbols: s.symbols.size, connected: s.client.isConnected(MARKET_WS_KEY as never), reconnects: s.reconnects, lastMessageAt: s.lastMessageAt }));
  }

  close(): void {
    this.closed = true;
    for (const s of this.shards) {
      if (s.flush) clearTimeout(s.flush);
      s.client.removeAllListeners();
      s.client.closeAll(true);
    }
  }

  private topicsOf(symbol: string): string[] {
    const s = symbol.toLowerCase();
    return [`${s}@kline_${this.opts.interval}`, `${s}@markPrice${this.opts.markSpeed === '3s' ? '' : '@1s'}`];
  }

  private newShard(): Shard {
    const o = this.opts;
    const options: WSClientConfigurableOptions = {
      ...(o.wsUrl ? { wsUrl: o.wsUrl.replace(/\/$/, '') } : {}),
      ...(o.testnet ? { testnet: true } : {}),
      beautify: false,
      pingInterval: o.pingIntervalMs ?? 10_000,
      pongTimeout: o.pongTimeoutMs ?? 5_000,
      reconnectTimeout: o.reconnectDelayMs ?? 500,
    };
    const client = new WebsocketClient(options, binanceLogger(o.log));
    const shard: Shard = { client, symbols: new Set(), pending: [], flush: null, reconnects: 0, lastMessageAt: 0 };
    client.on('message', (msg) => this.onMessage(shard, msg));
    client.on('reconnected', () => {
      shard.reconnects++;
      this.emit('reconnected', [...shard.symbols]);
    });
    client.on('exception', (e) => o.log.debug({ err: (e as { message?: string })?.message ?? String(e) }, 'market stream exception'));
    this.shards.push(shard);
    return shard;
  }

  private onMessage(shard: Shard, msg: unknown): void {
    const receivedAt = Date.now();
    shard.lastMessageAt = receivedAt;
    const events = readStreamEvent(msg);
    if (typeof events === 'string') {
      this.emit('malformed', events);
      return;
    }
    for (const e of events) {
      if (!this.shardOf.has(e.symbol)) continue;
      if (e.kind === 'mark') this.emit('mark', e, receivedAt);
      else if (e.interval === this.opts.interval) this.emit('kline', e, receivedAt);
    }
  }
}

/** The binance client's logger, routed to pino: its connection chatter at debug, its errors as warnings. */
function binanceLogger(log: Logger) {
  const text = (params: unknown[]): string => params.map((p) => (typeof p === 'string' ? p : '')).filter(Boolean).join(' ');
  return {
    trace: () => {},
    info: (...params: unknown[]) => log.debug(text(params)),
    error: (...params: unknown[]) => log.warn(text(params)),
  };
}
