import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { klinePayload, markPricePayload } from '../streams/payloads.js';
import type { Engine } from './matching-engine.js';
import type { Faults } from './faults.js';
import { intervalToMs } from './feed.js';
import { premiumIndex } from './routes.js';

/**
 * Binance USD-M market streams served by the local exchange from whatever feeds it (replay, manual, live):
 * the same paths, payloads and control messages as `wss://fstream.binance.com`, so the `binance` package's
 * WebsocketClient (and any Binance client) talks to it unmodified.
 *
 * Paths: `/ws/<stream>[/<stream>...]` (raw payloads), `/stream?streams=<a>/<b>` (combined:
 * `{"stream": name, "data": payload}`), each also under `/market` and `/public` (Binance's split of 2026);
 * plus the live methods SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY / GET_PROPERTY `combined`.
 * Streams: `<symbol>@kline_<interval>` (an update every `tickMs` while the candle changes; the closing
 * update has `k.x = true`, and every candle that closed since the previous update is sent, in order, so a
 * fast replay loses none), `<symbol>@markPrice@1s`, `<symbol>@markPrice` (3 s), `!markPrice@arr[@1s]`.
 * Any other stream name is accepted and stays silent, as on Binance.
 */

export interface StreamServerOptions {
  /** How often kline updates are computed and sent (Binance: 250 ms). */
  tickMs?: number;
  /** Server ping frame interval (Binance: 3 minutes) ... */
  pingIntervalMs?: number;
  /** ... and the time without a pong after which the connection is closed (Binance: 10 minutes). */
  pongTimeoutMs?: number;
  /** Streams one connection may listen to (Binance USD-M: 200). */
  maxStreamsPerConnection?: number;
  /** Incoming messages allowed per second and connection; more closes the connection (Binance: 10). */
  maxMessagesPerSecond?: number;
}

export interface StreamServerStatus {
  connections: number;
  subscriptions: number;
  /** Data messages sent since start. */
  sent: number;
  /** Connections ended by the streamDrop switch. */
  dropped: number;
}

export interface StreamServer {
  /** Sends what is due now for `symbol` (after a manual price change) instead of waiting for the next tick. */
  publishSymbol(symbol: string): void;
  /** Runs one publishing pass now (kline updates and the mark price streams). */
  publishAll(): void;
  status(): StreamServerStatus;
  close(): void;
}

interface Connection {
  ws: WebSocket;
  streams: Set<string>;
  combined: boolean;
  /** Streams subscribed since the last pass: they get the current kline at once, changed or not. */
  fresh: Set<string>;
  lastPongAt: number;
  messageTimes: number[];
}

type Parsed =
  | { kind: 'kline'; symbol: string; interval: string; intervalMs: number }
  | { kind: 'mark'; symbol: string; everyMs: number }
  | { kind: 'markAll'; everyMs: number }
  | { kind: 'other' };

const PATH = /^(?:\/market|\/public)?\/(ws|stream)(?:\/(.*))?$/;
const METHODS = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY'];

export function parseStreamName(name: string): Parsed {
  let m = /^([a-z0-9]+)@kline_([0-9]+[mhdwM])$/.exec(name);
  if (m) {
    const intervalMs = intervalToMs(m[2]!);
    return intervalMs ? { kind: 'kline', symbol: m[1]!.toUpperCase(), interval: m[2]!, intervalMs } : { kind: 'other' };
  }
  m = /^([a-z0-9]+)@markPrice(@1s)?$/.exec(name);
  if (m) return { kind: 'mark', symbol: m[1]!.toUpperCase(), everyMs: m[2] ? 1000 : 3000 };
  m = /^!markPrice@arr(@1s)?$/.exec(name);
  if (m) return { kind: 'markAll', everyMs: m[1] ? 1000 : 3000 };
  return { kind: 'other' };
}

export function attachStreamServer(server: Server, ctx: { engine: Engine; faults: Faults; fundingRate: number }, opts: StreamServerOptions = {}): StreamServer {
  const tickMs = opts.tickMs ?? 250;
  const pingIntervalMs = opts.pingIntervalMs ?? 180_000;
  const pongTimeoutMs = opts.pongTimeoutMs ?? 600_000;
  const maxStreams = opts.maxStreamsPerConnection ?? 200;
  const maxPerSecond = opts.maxMessagesPerSecond ?? 10;
  const { engine, faults } = ctx;
  const wss = new WebSocketServer({ noServer: true, autoPong: false });
  const connections = new Set<Connection>();
  /** Open time of the newest kline sent per stream name (klines closed after it are sent next). */
  const klineOpen = new Map<string, number>();
  /** The last forming kline sent per stream, to send only changes. */
  const klineLast = new Map<string, string>();
  const stats = { sent: 0, dropped: 0 };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const m = PATH.exec(url.pathname);
    if (!m) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    const combined = m[1] === 'stream';
    const names = (combined ? (url.searchParams.get('streams') ?? '') : (m[2] ?? '')).split('/').filter(Boolean);
    if (names.length > maxStreams) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, combined, names));
  });

  function accept(ws: WebSocket, combined: boolean, names: string[]): void {
    const c: Connection = { ws, streams: new Set(names), combined, fresh: new Set(names), lastPongAt: Date.now(), messageTimes: [] };
    connections.add(c);
    ws.on('message', (data: RawData) => onMessage(c, data.toString()));
    ws.on('ping', (data: Buffer) => {
      if (!faults.streamStalled()) ws.pong(data);
    });
    ws.on('pong', () => {
      c.lastPongAt = Date.now();
    });
    ws.on('close', () => connections.delete(c));
    ws.on('error', () => connections.delete(c));
  }

  function reply(c: Connection, body: unknown): void {
    if (!faults.streamStalled() && c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify(body));
  }

  function onMessage(c: Connection, text: string): void {
    const now = Date.now();
    c.messageTimes = c.messageTimes.filter((t) => now - t < 1000);
    c.messageTimes.push(now);
    if (c.messageTimes.length > maxPerSecond) {
      c.ws.close(1008, `too many messages: more than ${maxPerSecond} per second`);
      return;
    }
    let req: { method?: unknown; params?: unknown; id?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch (e) {
      return reply(c, { error: { code: 3, msg: `Invalid JSON: ${(e as Error).message}` } });
    }
    const id = req?.id;
    if (!(typeof id === 'number' && Number.isSafeInteger(id) && id >= 0)) {
      return reply(c, { error: { code: 2, msg: 'Invalid request: request ID must be an unsigned integer' }, id: id ?? null });
    }
    const fail = (code: number, msg: string): void => reply(c, { error: { code, msg }, id });
    if (typeof req.method !== 'string' || !METHODS.includes(req.method)) {
      return fail(2, `Invalid request: unknown variant ${JSON.stringify(req.method)}, expected one of ${METHODS.join(', ')}`);
    }
    const params = req.params;
    switch (req.method) {
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        if (!Array.isArray(params) || !params.every((p) => typeof p === 'string')) return fail(2, 'Invalid request: params must be an array of stream names');
        if (req.method === 'SUBSCRIBE') {
          const added = params.filter((p) => !c.streams.has(p));
          if (c.streams.size + added.length > maxStreams) return fail(2, `Invalid request: a connection can listen to at most ${maxStreams} streams`);
          for (const p of added) {
            c.streams.add(p);
            c.fresh.add(p);
          }
        } else {
          for (const p of params) c.streams.delete(p);
        }
        return reply(c, { result: null, id });
      }
      case 'LIST_SUBSCRIPTIONS':
        return reply(c, { result: [...c.streams], id });
      case 'SET_PROPERTY':
      case 'GET_PROPERTY': {
        if (!Array.isArray(params) || typeof params[0] !== 'string') return fail(2, 'Invalid request: property name must be a string');
        if (params[0] !== 'combined') return fail(0, 'Unknown property');
        if (req.method === 'GET_PROPERTY') return reply(c, { result: c.combined, id });
        if (typeof params[1] !== 'boolean') return fail(1, 'Invalid value type: expected Boolean');
        c.combined = params[1];
        return reply(c, { result: null, id });
      }
    }
  }

  /** Sends one payload to every connection listening to `stream` (or only the `fresh` ones). */
  function send(stream: string, payload: unknown, onlyFresh = false): void {
    let raw: string | null = null;
    let wrapped: string | null = null;
    for (const c of connections) {
      if (!c.streams.has(stream) || (onlyFresh && !c.fresh.has(stream))) continue;
      if (faults.streamStalled()) continue;
      if (faults.takeStreamDrop()) {
        // The network loss the switch stands for: no close frame, the client notices by itself.
        c.ws.terminate();
        connections.delete(c);
        stats.dropped++;
        continue;
      }
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (c.combined) c.ws.send((wrapped ??= JSON.stringify({ stream, data: payload })));
      else c.ws.send((raw ??= JSON.stringify(payload)));
      stats.sent++;
    }
  }

  function streamsOf(filter: (p: Parsed) => boolean): Map<string, Parsed> {
    const out = new Map<string, Parsed>();
    for (const c of connections) {
      for (const s of c.streams) {
        if (out.has(s)) continue;
        const p = parseStreamName(s);
        if (filter(p)) out.set(s, p);
      }
    }
    return out;
  }

  function publishKline(stream: string, p: Extract<Parsed, { kind: 'kline' }>): void {
    if (!engine.rules(p.symbol)) return;
    let latest;
    try {
      latest = engine.feed.klines(p.symbol, { intervalMs: p.intervalMs, limit: 1 })[0];
    } catch {
      return; // a data file found bad: its REST requests report it; the stream stays silent
    }
    if (!latest) return;
    const now = engine.feed.now();
    const previous = klineOpen.get(stream);
    if (previous !== undefined && latest[0] > previous) {
      const closed = engine.feed.klines(p.symbol, { intervalMs: p.intervalMs, startTime: previous, endTime: latest[0] - 1, limit: 1500 });
      for (const row of closed) send(stream, klinePayload(p.symbol, p.interval, row, true, now));
    }
    klineOpen.set(stream, latest[0]);
    const text = latest.join(',');
    const changed = klineLast.get(stream) !== text;
    klineLast.set(stream, text);
    send(stream, klinePayload(p.symbol, p.interval, latest, false, now), !changed);
  }

  function markOf(symbol: string): ReturnType<typeof markPricePayload> | null {
    if (!engine.rules(symbol) || engine.mark(symbol) === undefined) return null;
    const m = premiumIndex(engine, symbol, ctx.fundingRate);
    return markPricePayload(symbol, m.markPrice as string, m.lastFundingRate as string, m.nextFundingTime as number, engine.feed.now());
  }

  function publishMarks(dueEveryMs: Set<number>, onlySymbol?: string): void {
    const streams = streamsOf((p) => (p.kind === 'mark' || p.kind === 'markAll') && dueEveryMs.has(p.everyMs));
    let all: ReturnType<typeof markPricePayload>[] | null = null;
    for (const [stream, p] of streams) {
      if (p.kind === 'mark') {
        if (onlySymbol && p.symbol !== onlySymbol) continue;
        const payload = markOf(p.symbol);
        if (payload) send(stream, payload);
      } else if (p.kind === 'markAll' && !onlySymbol) {
        all ??= engine.feed.symbols().flatMap((s) => markOf(s) ?? []);
        send(stream, all);
      }
    }
  }

  function publishKlines(onlySymbol?: string): void {
    const streams = streamsOf((x) => x.kind === 'kline');
    for (const [stream, p] of streams) {
      if (p.kind === 'kline' && (!onlySymbol || p.symbol === onlySymbol)) publishKline(stream, p);
    }
    // A stream nobody listens to any more starts afresh (no history burst) when subscribed again.
    for (const stream of klineOpen.keys()) {
      if (streams.has(stream)) continue;
      klineOpen.delete(stream);
      klineLast.delete(stream);
    }
  }

  function clearFresh(): void {
    for (const c of connections) c.fresh.clear();
  }

  let ticks = 0;
  const perSecond = Math.max(1, Math.round(1000 / tickMs));
  const ticker = setInterval(() => {
    ticks++;
    publishKlines();
    const due = new Set<number>();
    if (ticks % perSecond === 0) due.add(1000);
    if (ticks % (3 * perSecond) === 0) due.add(3000);
    if (due.size > 0) publishMarks(due);
    clearFresh();
  }, tickMs);
  ticker.unref();

  const pinger = setInterval(() => {
    const now = Date.now();
    for (const c of connections) {
      if (now - c.lastPongAt > pongTimeoutMs) {
        c.ws.terminate();
        connections.delete(c);
      } else if (!faults.streamStalled()) {
        c.ws.ping();
      }
    }
  }, pingIntervalMs);
  pinger.unref();

  return {
    publishSymbol(symbol) {
      publishKlines(symbol);
      publishMarks(new Set([1000, 3000]), symbol);
    },
    publishAll() {
      publishKlines();
      publishMarks(new Set([1000, 3000]));
      clearFresh();
    },
    status: () => ({ connections: connections.size, subscriptions: [...connections].reduce((n, c) => n + c.streams.size, 0), ...stats }),
    close() {
      clearInterval(ticker);
      clearInterval(pinger);
      for (const c of connections) c.ws.terminate();
      connections.clear();
      wss.close();
    },
  };
}
