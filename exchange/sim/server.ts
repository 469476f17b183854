import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_SLIPPAGE_BPS } from '../../core/costs.js';
import { DEFAULT_WEIGHT_LIMIT_PER_MINUTE, ORDER_ENDPOINTS, requestWeight } from '../weights.js';
import { handleAdmin, releaseHeld, type LateExecution } from './admin.js';
import { ApiError } from './api-error.js';
import { Engine } from './matching-engine.js';
import { Faults, type FaultConfig } from './faults.js';
import { ManualFeed, ReplayFeed, type MarketFeed } from './feed.js';
import { sendJson } from './http.js';
import { LiveFeed } from './live-feed.js';
import { RateLimits } from './rate-limits.js';
import { buildRoutes, type Params, type RequestContext, type Route } from './routes.js';
import { signatureMatches, splitSignature } from './signature.js';
import { emptyState, type SimState } from './state.js';
import { StateStore } from './store.js';
import { attachStreamServer, type StreamServer, type StreamServerOptions } from './stream-server.js';
import { sleep } from '../../infra/sleep.js';

export type FeedOptions =
  | { kind: 'replay'; dir: string; speed?: number; start?: number; symbols?: string[] }
  | { kind: 'manual'; prices?: Record<string, number> }
  /** Today's market from an upstream Binance (or a stand-in): its public REST and stream base URLs. */
  | { kind: 'live'; restUrl: string; wsUrl: string; symbols: string[]; staleAfterMs?: number };

export interface LocalExchangeOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** JSON file holding balances, positions, orders and the replay clock; omit for an in-memory exchange. */
  stateFile?: string;
  feed: FeedOptions;
  apiKey?: string;
  apiSecret?: string;
  initialBalances?: Record<string, number>;
  slippageBps?: number;
  fundingRate?: number;
  maintenanceMarginRate?: number;
  defaultLeverage?: number;
  /** Resolution of the intrabar price walk (the agent's loop interval). */
  intrabarStepMs?: number;
  /** Wall clock; tests inject a controllable one. */
  clock?: () => number;
  faults?: FaultConfig;
  faultSeed?: number;
  /** How often the market is advanced without requests (so stops trigger while nobody asks). */
  tickMs?: number;
  /** Request weight per IP and minute before 429 (Binance USD-M: 2400). */
  weightLimitPerMinute?: number;
  /** false: no weight or order-count limits at all (capacity benchmarks). Default true. */
  rateLimits?: boolean;
  /** Requests ignoring a 429 back-off before the IP is banned with 418 (see rate-limits.ts). */
  banAfterIgnored429?: number;
  /** Market streams (kline cadence, ping / pong, limits); see stream-server.ts. */
  streams?: StreamServerOptions;
}

export interface LocalExchange {
  baseUrl: string;
  /** Base of the market streams (`ws://127.0.0.1:<port>`): `/ws/<stream>`, `/stream?streams=`, `/market/...`. */
  wsUrl: string;
  port: number;
  apiKey: string;
  apiSecret: string;
  feed: MarketFeed;
  engine: Engine;
  faults: Faults;
  streams: StreamServer;
  /** Sends every held response (holdResponse fault); returns how many. */
  release(): number;
  /** Saves the state and stops the server. */
  close(): Promise<void>;
}

/** Fixed development credentials of the local exchange: it trades play money on loopback only. */
export const DEV_API_KEY = 'qt-local-exchange-dev-key';
export const DEV_API_SECRET = 'qt-local-exchange-dev-secret-not-for-real-money';

const MAX_RECV_WINDOW_MS = 60_000;

export interface Ctx {
  engine: Engine;
  feed: MarketFeed;
  faults: Faults;
  routes: Map<string, Route>;
  store: StateStore;
  limits: RateLimits;
  held: Array<() => void>;
  late: Set<NodeJS.Timeout>;
  lateLog: LateExecution[];
  /** /fapi requests received, whatever became of them. */
  requests: number;
  apiKey: string;
  apiSecret: string;
  clock: () => number;
  /** Set once the HTTP server exists. */
  streams: StreamServer | null;
}

export async function startLocalExchange(opts: LocalExchangeOptions): Promise<LocalExchange> {
  const clock = opts.clock ?? Date.now;
  const apiKey = opts.apiKey ?? DEV_API_KEY;
  const apiSecret = opts.apiSecret ?? DEV_API_SECRET;
  const fundingRate = opts.fundingRate ?? 0.0001;
  const loaded = StateStore.load(opts.stateFile);
  const saved = loaded?.state ?? null;

  const feed = await makeFeed(opts.feed, opts.intrabarStepMs ?? 15_000, clock, saved);
  const state: SimState = saved ?? emptyState(feed.now(), opts.initialBalances ?? { USDT: 10_000, USDC: 10_000 });
  let store: StateStore | null = null;
  const engine = new Engine(feed, state, {
    slippageBps: opts.slippageBps ?? DEFAULT_SLIPPAGE_BPS,
    fundingRate,
    maintenanceMarginRate: opts.maintenanceMarginRate ?? 0.005,
    defaultLeverage: opts.defaultLeverage ?? 20,
    checkEveryMs: opts.intrabarStepMs ?? 15_000,
    onMutate: () => store?.markDirty(),
  });
  store = new StateStore(opts.stateFile, () => engine.state, loaded?.seq ?? 0);
  const faults = new Faults(opts.faults, opts.faultSeed);
  const enforce = opts.rateLimits ?? true;
  const weightLimit = (): number => (enforce ? (faults.weightLimitPerMinute ?? opts.weightLimitPerMinute ?? DEFAULT_WEIGHT_LIMIT_PER_MINUTE) : Infinity);
  const limits = new RateLimits({ clock, weightLimit, enforce, ...(opts.banAfterIgnored429 !== undefined ? { banAfterIgnored: opts.banAfterIgnored429 } : {}) });
  const ctx: Ctx = { engine, feed, faults, routes: buildRoutes(fundingRate, weightLimit), store, limits, held: [], late: new Set(), lateLog: [], requests: 0, apiKey, apiSecret, clock, streams: null };

  const server = createServer((req, res) => {
    handle(ctx, req, res).catch((e: unknown) => sendJson(res, 500, { code: -1000, msg: String(e) }));
  });
  server.keepAliveTimeout = 30_000;
  const streams = attachStreamServer(server, { engine, faults, fundingRate }, opts.streams);
  ctx.streams = streams;
  if (feed instanceof LiveFeed) feed.onUpdate = (symbol) => streams.publishSymbol(symbol);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
  } catch (e) {
    streams.close();
    if (feed instanceof LiveFeed) feed.close();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;

  // Advance the market even when nobody asks, and save the replay clock now and then.
  const ticker = setInterval(() => {
    try {
      engine.advance();
    } catch {
      // A data file found bad on first use: requests for that symbol answer the error; the market goes on.
    }
    void store.flush().catch(() => undefined); // the store keeps the error; the next write retries
  }, opts.tickMs ?? 250);
  ticker.unref();
  let lastSavedTime = state.marketTime;
  const saver = setInterval(() => {
    if (state.marketTime !== lastSavedTime) {
      lastSavedTime = state.marketTime;
      store.markDirty();
    }
  }, 2_000);
  saver.unref();

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    apiKey,
    apiSecret,
    feed,
    engine,
    faults,
    streams,
    release: () => releaseHeld(ctx.held),
    close: async () => {
      clearInterval(ticker);
      clearInterval(saver);
      streams.close();
      if (feed instanceof LiveFeed) feed.close();
      for (const t of ctx.late) clearTimeout(t);
      ctx.late.clear();
      engine.advance();
      store.markDirty();
      try {
        await store.flush();
      } finally {
        for (const send of ctx.held.splice(0)) send();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}

async function makeFeed(f: FeedOptions, stepMs: number, clock: () => number, saved: SimState | null): Promise<MarketFeed> {
  if (f.kind === 'manual') return new ManualFeed(clock, { ...(f.prices ?? {}), ...(saved?.manualPrices ?? {}) });
  if (f.kind === 'live') return LiveFeed.start({ restUrl: f.restUrl, wsUrl: f.wsUrl, symbols: f.symbols, clock, ...(f.staleAfterMs !== undefined ? { staleAfterMs: f.staleAfterMs } : {}) });
  const feed = new ReplayFeed({ dir: f.dir, speed: f.speed ?? 1, intrabarStepMs: stepMs, clock, ...(f.start !== undefined ? { start: f.start } : {}), ...(f.symbols ? { symbols: f.symbols } : {}) });
  // A restart continues the replay where it stopped.
  if (saved) feed.resumeAt(saved.marketTime);
  return feed;
}

async function handle(ctx: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const body = await readBody(req);
  if (path.startsWith('/admin/')) return handleAdmin(ctx, req, res, path, body);

  ctx.requests++;
  const endpoint = `${req.method} ${path}`;
  const route = ctx.routes.get(endpoint);
  if (!route) return sendJson(res, 404, { code: -1000, msg: `Unknown endpoint ${endpoint}` });
  const bodyText = body.toString('utf8');
  const params = parseParams(rawQuery, req.headers['content-type']?.includes('x-www-form-urlencoded') ? bodyText : '');

  // Weight is charged per IP before anything else, like Binance's gateway does.
  const charged = ctx.limits.chargeWeight(req.socket.remoteAddress ?? 'unknown', requestWeight(req.method ?? 'GET', path, params));
  const headers: Record<string, string> = { 'x-mbx-used-weight': String(charged.used), 'x-mbx-used-weight-1m': String(charged.used) };
  if (!charged.verdict.ok) return refuse(res, charged.verdict, headers);

  if (ctx.faults.latencyMs > 0) await sleep(ctx.faults.latencyMs);
  const limited = ctx.faults.take429();
  if (limited !== null) {
    const msg = limited.status === 418 ? 'Way too many requests; IP banned until further notice.' : 'Too many requests; current limit is 2400 requests per minute.';
    return sendJson(res, limited.status, { code: -1003, msg }, { ...headers, 'retry-after': String(limited.retryAfterSec) });
  }
  if (ctx.faults.take503()) return sendJson(res, 503, { code: -1008, msg: 'Service Unavailable.' }, headers);
  const injected = ctx.faults.takeHttpError(path);
  if (injected) return sendJson(res, injected.status, injected.body, headers);

  const serverTime = ctx.clock() + ctx.faults.clockSkewMs;
  try {
    if (route.signed) authenticate(ctx, req, rawQuery, bodyText, params, serverTime);
    if (ORDER_ENDPOINTS.has(endpoint)) {
      const orders = ctx.limits.chargeOrder(ctx.apiKey);
      headers['x-mbx-order-count-10s'] = String(orders.count10s);
      headers['x-mbx-order-count-1m'] = String(orders.count1m);
      if (!orders.verdict.ok) return refuse(res, orders.verdict, headers);
    }
    if (route.mutating) {
      const delayMs = ctx.faults.takeLateExecution(path);
      if (delayMs !== null) return executeLate(ctx, route, params, path, delayMs, res);
    }
    ctx.engine.advance();
    const result = route.handle(ctx.engine, params, requestContext(ctx, route, serverTime));
    if (!route.mutating) return sendJson(res, 200, result, headers);
    if (!(await persist(ctx, res, headers))) return;
    return answerAfterExecution(ctx, res, result, headers, path);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (route.mutating && !(await persist(ctx, res, headers))) return;
    return sendJson(res, e.httpStatus, { code: e.code, msg: e.message }, headers);
  }
}

function requestContext(ctx: Ctx, route: Route, serverTime: number): RequestContext {
  return {
    serverTime,
    hidePositions: route.positionRead === true && ctx.faults.takeEmptyPositionRead(),
    takePartialFill: () => ctx.faults.takePartialFill(),
  };
}

function refuse(res: ServerResponse, v: { status: number; code: number; msg: string; retryAfterSec: number }, headers: Record<string, string>): void {
  sendJson(res, v.status, { code: v.code, msg: v.msg }, { ...headers, 'retry-after': String(v.retryAfterSec) });
}

/**
 * Makes the request's effects durable before it is answered. When the write fails, the change stays in
 * memory (the store writes it with the next successful write) and the caller is told the outcome is
 * unknown (503 -1006), which is the truth: executed here, not yet on disk.
 */
async function persist(ctx: Ctx, res: ServerResponse, headers: Record<string, string>): Promise<boolean> {
  try {
    await ctx.store.flush();
    return true;
  } catch (e) {
    sendJson(res, 503, { code: -1006, msg: `An unknown error occurred while processing the request. Execution status unknown: state not saved (${(e as Error).message}).` }, headers);
    return false;
  }
}

/**
 * The lateExecution fault: the connection is dropped now and the request runs `delayMs` later, through the
 * same handler and checks as any request at that moment. Outcomes are listed in /admin/state.
 */
function executeLate(ctx: Ctx, route: Route, params: Params, path: string, delayMs: number, res: ServerResponse): void {
  res.socket?.destroy();
  const entry: LateExecution = { path, clientId: params.get('newClientOrderId') ?? params.get('clientAlgoId') ?? null, receivedAt: ctx.clock(), executedAt: null, outcome: 'pending' };
  ctx.lateLog.push(entry);
  if (ctx.lateLog.length > 200) ctx.lateLog.shift();
  const timer = setTimeout(() => {
    ctx.late.delete(timer);
    entry.executedAt = ctx.clock();
    try {
      ctx.engine.advance();
      route.handle(ctx.engine, params, requestContext(ctx, route, ctx.clock() + ctx.faults.clockSkewMs));
      entry.outcome = 'executed';
    } catch (e) {
      entry.outcome = e instanceof ApiError ? `refused ${e.code}: ${e.message}` : `failed: ${String(e)}`;
    }
    ctx.store.flush().catch(() => undefined); // kept in memory; the next write retries
  }, delayMs);
  ctx.late.add(timer);
}

/** Fault switches that act after an order was executed: the caller cannot know the outcome. */
function answerAfterExecution(ctx: Ctx, res: ServerResponse, result: unknown, headers: Record<string, string>, path: string): void {
  const after = ctx.faults.takeAfterExecution(path);
  if (after.kind === 'lose') {
    res.socket?.destroy();
    return;
  }
  if (after.kind === 'hold') {
    ctx.held.push(() => sendJson(res, 200, result, headers));
    return;
  }
  if (after.kind === 'unknown') {
    if (!after.code) return sendJson(res, 503, { msg: 'Unknown error, please check your request or try again later.' }, headers);
    const msg = after.code === -1007
      ? 'Timeout waiting for response from backend server. Send status unknown; execution status unknown.'
      : 'An unknown error occurred while processing the request. Execution status unknown.';
    return sendJson(res, 503, { code: after.code, msg }, headers);
  }
  sendJson(res, 200, result, headers);
}

function authenticate(ctx: Ctx, req: IncomingMessage, rawQuery: string, body: string, params: Params, serverTime: number): void {
  const key = req.headers['x-mbx-apikey'];
  if (typeof key !== 'string' || key === '') throw new ApiError(401, -2014, 'API-key format invalid.');
  if (key !== ctx.apiKey) throw new ApiError(401, -2015, 'Invalid API-key, IP, or permissions for action.');
  const timestamp = Number(params.get('timestamp'));
  if (!params.get('timestamp') || !Number.isFinite(timestamp)) {
    throw new ApiError(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.");
  }
  const recvWindow = Number(params.get('recvWindow') ?? 5000);
  if (!(recvWindow > 0 && recvWindow <= MAX_RECV_WINDOW_MS)) throw new ApiError(400, -1131, 'recvWindow must be less than 60000');
  if (timestamp > serverTime + 1000 || serverTime - timestamp > recvWindow) {
    throw new ApiError(400, -1021, 'Timestamp for this request is outside of the recvWindow.');
  }
  const { payload, signature } = splitSignature(rawQuery);
  if (!signature) throw new ApiError(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.");
  const bodyPayload = req.headers['content-type']?.includes('x-www-form-urlencoded') ? body : '';
  if (!signatureMatches(ctx.apiSecret, payload + bodyPayload, signature)) {
    throw new ApiError(400, -1022, 'Signature for this request is not valid.');
  }
}

function parseParams(rawQuery: string, formBody: string): Params {
  const params: Params = new Map();
  for (const source of [rawQuery, formBody]) {
    if (!source) continue;
    for (const [k, v] of new URLSearchParams(source)) params.set(k, v);
  }
  return params;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

