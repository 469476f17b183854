import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_SLIPPAGE_BPS } from '../../core/costs.js';
import { ApiError } from './api-error.js';
import { Engine } from './engine.js';
import { Faults, type FaultConfig } from './faults.js';
import { ManualFeed, ReplayFeed, type MarketFeed } from './feed.js';
import { buildRoutes, type Params, type Route } from './routes.js';
import { signatureMatches, splitSignature } from './signature.js';
import { emptyState, type SimState } from './state.js';
import { StateStore } from './store.js';
import { accountView, algoView, balanceView, fillView, orderView } from './views.js';

export type FeedOptions =
  | { kind: 'replay'; dir: string; speed?: number; start?: number; symbols?: string[] }
  | { kind: 'manual'; prices?: Record<string, number> };

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
}

export interface LocalExchange {
  baseUrl: string;
  port: number;
  apiKey: string;
  apiSecret: string;
  feed: MarketFeed;
  engine: Engine;
  faults: Faults;
  /** Sends every held response (holdResponse fault); returns how many. */
  release(): number;
  /** Saves the state and stops the server. */
  close(): Promise<void>;
}

/** Fixed development credentials of the local exchange: it trades play money on loopback only. */
export const DEV_API_KEY = 'qt-local-exchange-dev-key';
export const DEV_API_SECRET = 'qt-local-exchange-dev-secret-not-for-real-money';

const MAX_RECV_WINDOW_MS = 60_000;

export async function startLocalExchange(opts: LocalExchangeOptions): Promise<LocalExchange> {
  const clock = opts.clock ?? Date.now;
  const apiKey = opts.apiKey ?? DEV_API_KEY;
  const apiSecret = opts.apiSecret ?? DEV_API_SECRET;
  const fundingRate = opts.fundingRate ?? 0.0001;
  const loaded = StateStore.load(opts.stateFile);
  const saved = loaded?.state ?? null;

  const feed = makeFeed(opts.feed, opts.intrabarStepMs ?? 15_000, clock, saved);
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
  const routes = buildRoutes(fundingRate);
  const held: Array<() => void> = [];
  const weights = new WeightCounter(clock);

  const ctx: Ctx = { engine, feed, faults, routes, store, held, weights, apiKey, apiSecret, clock };
  const server = createServer((req, res) => {
    handle(ctx, req, res).catch((e: unknown) => sendJson(res, 500, { code: -1000, msg: String(e) }));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  // Advance the market even when nobody asks, and save the replay clock now and then.
  const ticker = setInterval(() => {
    engine.advance();
    void store.flush();
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
    port,
    apiKey,
    apiSecret,
    feed,
    engine,
    faults,
    release: () => releaseHeld(held),
    close: async () => {
      clearInterval(ticker);
      clearInterval(saver);
      engine.advance();
      store.markDirty();
      await store.flush();
      for (const send of held.splice(0)) send();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function makeFeed(f: FeedOptions, stepMs: number, clock: () => number, saved: SimState | null): MarketFeed {
  if (f.kind === 'manual') return new ManualFeed(clock, { ...(f.prices ?? {}), ...(saved?.manualPrices ?? {}) });
  const feed = new ReplayFeed({ dir: f.dir, speed: f.speed ?? 1, intrabarStepMs: stepMs, clock, ...(f.start !== undefined ? { start: f.start } : {}), ...(f.symbols ? { symbols: f.symbols } : {}) });
  // A restart continues the replay where it stopped.
  if (saved) feed.resumeAt(saved.marketTime);
  return feed;
}

function releaseHeld(held: Array<() => void>): number {
  const all = held.splice(0);
  for (const send of all) send();
  return all.length;
}

interface Ctx {
  engine: Engine;
  feed: MarketFeed;
  faults: Faults;
  routes: Map<string, Route>;
  store: StateStore;
  held: Array<() => void>;
  weights: WeightCounter;
  apiKey: string;
  apiSecret: string;
  clock: () => number;
}

/** Request weight used in the current wall-clock minute, reported like Binance in X-MBX-USED-WEIGHT-1M. */
class WeightCounter {
  private minute = 0;
  private used = 0;
  private orders = 0;
  constructor(private readonly clock: () => number) {}
  add(weight: number, isOrder: boolean): { used: number; orders: number } {
    const m = Math.floor(this.clock() / 60_000);
    if (m !== this.minute) {
      this.minute = m;
      this.used = 0;
      this.orders = 0;
    }
    this.used += weight;
    if (isOrder) this.orders++;
    return { used: this.used, orders: this.orders };
  }
}

async function handle(ctx: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const body = await readBody(req);
  if (path.startsWith('/admin/')) return handleAdmin(ctx, req, res, path, body);

  const route = ctx.routes.get(`${req.method} ${path}`);
  if (!route) return sendJson(res, 404, { code: -1000, msg: `Unknown endpoint ${req.method} ${path}` });
  const usage = ctx.weights.add(route.weight, path.endsWith('/order') && req.method === 'POST');
  const headers = { 'x-mbx-used-weight': String(usage.used), 'x-mbx-used-weight-1m': String(usage.used), 'x-mbx-order-count-1m': String(usage.orders) };

  if (ctx.faults.latencyMs > 0) await sleep(ctx.faults.latencyMs);
  const limited = ctx.faults.take429();
  if (limited !== null) {
    const msg = limited.status === 418 ? 'Way too many requests; IP banned until further notice.' : 'Too many requests; current limit is 2400 requests per minute.';
    return sendJson(res, limited.status, { code: -1003, msg }, { ...headers, 'retry-after': String(limited.retryAfterSec) });
  }
  if (ctx.faults.take503()) return sendJson(res, 503, { code: -1008, msg: 'Service Unavailable.' }, headers);

  const bodyText = body.toString('utf8');
  const params = parseParams(rawQuery, req.headers['content-type']?.includes('x-www-form-urlencoded') ? bodyText : '');
  const serverTime = ctx.clock() + ctx.faults.clockSkewMs;
  try {
    if (route.signed) authenticate(ctx, req, rawQuery, bodyText, params, serverTime);
    ctx.engine.advance();
    const result = route.handle(ctx.engine, params, serverTime);
    if (!route.mutating) return sendJson(res, 200, result, headers);
    await ctx.store.flush();
    return answerAfterExecution(ctx, res, result, headers, path);
  } catch (e) {
    if (e instanceof ApiError) {
      if (route.mutating) await ctx.store.flush();
      return sendJson(res, e.httpStatus, { code: e.code, msg: e.message }, headers);
    }
    throw e;
  }
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

async function handleAdmin(ctx: Ctx, req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): Promise<void> {
  const remote = req.socket.remoteAddress ?? '';
  if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(remote)) return sendJson(res, 403, { code: -2015, msg: 'admin API is loopback only' });
  let input: Record<string, unknown> = {};
  try {
    input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
  } catch {
    return sendJson(res, 400, { code: -1100, msg: 'body must be JSON' });
  }
  const route = `${req.method} ${path}`;
  const { engine, feed, faults } = ctx;
  switch (route) {
    case 'POST /admin/price': {
      const symbol = String(input.symbol ?? '');
      const price = Number(input.price);
      if (!(feed instanceof ManualFeed)) return sendJson(res, 400, { code: -1000, msg: 'prices can be set only with the manual feed' });
      if (!/^[A-Z0-9]+(USDT|USDC)$/.test(symbol) || !(price > 0)) return sendJson(res, 400, { code: -1102, msg: 'symbol (…USDT/…USDC) and price > 0 required' });
      feed.setPrice(symbol, price);
      const onTick = feed.price(symbol)!;
      engine.onPriceSet(symbol, onTick);
      await ctx.store.flush();
      return sendJson(res, 200, { symbol, price: onTick, marketTime: engine.state.marketTime });
    }
    case 'POST /admin/faults':
      faults.set(input as FaultConfig);
      return sendJson(res, 200, faults.current());
    case 'DELETE /admin/faults':
      faults.clear();
      return sendJson(res, 200, faults.current());
    case 'GET /admin/faults':
      return sendJson(res, 200, faults.current());
    case 'POST /admin/release':
      return sendJson(res, 200, { released: releaseHeld(ctx.held) });
    case 'GET /admin/state': {
      engine.advance();
      const s = engine.state;
      return sendJson(res, 200, {
        feed: feed.kind,
        marketTime: s.marketTime,
        balances: Object.keys(s.wallets).map((a) => balanceView(engine, a)),
        account: accountView(engine),
        orders: s.orders.map((o) => orderView(engine, o)),
        algoOrders: s.algoOrders.map((a) => algoView(engine, a)),
        fills: s.fills.map((f) => fillView(engine, f)),
        funding: s.funding,
        faults: faults.current(),
        heldResponses: ctx.held.length,
      });
    }
    default:
      return sendJson(res, 404, { code: -1000, msg: `Unknown admin endpoint ${route}` });
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
