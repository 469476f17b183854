import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { createHmac } from 'node:crypto';
import { USDMClient } from 'binance';
import type { Candle, OrderSide } from '../core/types.js';
import { BinanceCode, ExchangeError, classifyHttpFailure, classifyNetworkFailure } from './errors.js';
import { checkLeverage, checkOpeningOrder, validOrderCaps, type OrderCaps } from './order-caps.js';
import { definedOnly, floorToStep, roundToTick } from './rounding.js';
import { requestWeight } from './weights.js';
import type {
  AlgoOrderState,
  AlgoStatus,
  Balance,
  Fill,
  FuturesExchange,
  MarketOrderRequest,
  OrderState,
  OrderStatus,
  PositionInfo,
  StopOrderRequest,
  SymbolRules,
} from './types.js';
import { sleep } from '../infra/sleep.js';

export interface AdapterOptions {
  /** Label for logs and health: 'paper', 'testnet', 'live'. */
  venue: string;
  baseUrl: string;
  apiKey: string;
  apiSecret: string;
  /** Per-request timeout; the binance client's default is five minutes. */
  timeoutMs?: number;
  recvWindow?: number;
  exchangeInfoTtlMs?: number;
  /**
   * Request weight allowed per minute (Binance USD-M: 2400). The adapter keeps under 95% of the lower of this
   * and the REQUEST_WEIGHT limit the exchange's exchangeInfo lists; calls wait for the next minute beyond it.
   */
  weightLimitPerMinute?: number;
  /**
   * The exchange's clock, whose minutes the weight budget follows. Default: local time plus the offset
   * measured by syncTime. Tests pass the local exchange's controllable clock.
   */
  serverClock?: () => number;
  /**
   * Hard caps checked on every opening order and leverage change before anything is sent (order-caps.ts).
   * createExchange always sets them; a bare adapter (tests of the wire protocol, the upstream market feed)
   * runs without.
   */
  caps?: OrderCaps;
}

/** Share of the weight budget used before calls wait for the next minute. */
const WEIGHT_BUDGET_SHARE = 0.95;

type Raw = Record<string, unknown>;
const num = (x: unknown): number => Number(x ?? 0);

/**
 * The one FuturesExchange implementation, over the `binance` package's USDMClient. Live, testnet and the
 * local exchange differ only in base URL and keys. Every failure is an ExchangeError (see errors.ts).
 */
export class BinanceFuturesAdapter implements FuturesExchange {
  readonly venue: string;
  // Private fields stay out of util.inspect and JSON: the client holds the secret.
  readonly #client: USDMClient;
  readonly #infoTtlMs: number;
  readonly #weightLimit: number;
  readonly #serverClock: (() => number) | undefined;
  readonly #caps: OrderCaps | null;
  /** REQUEST_WEIGHT per minute from exchangeInfo, once read. */
  #reportedWeightLimit = Infinity;
  /** Server time minus local time (from syncTime): Binance's minutes are the server's. */
  #timeOffsetMs = 0;
  /** Weight this adapter has spent or reserved in the current minute (its own count, ahead of the header). */
  #weight = { minute: 0, used: 0 };
  #info: { at: number; rules: Map<string, SymbolRules> } | null = null;
  readonly #missRefresh = new Map<string, number>();
  #blockedUntil = 0;
  #oneWayChecked = false;
  readonly #prepared = new Map<string, number>();

  constructor(opts: AdapterOptions) {
    this.venue = opts.venue;
    this.#infoTtlMs = opts.exchangeInfoTtlMs ?? 10 * 60_000;
    this.#weightLimit = opts.weightLimitPerMinute ?? 2400;
    this.#serverClock = opts.serverClock;
    this.#caps = opts.caps ? validOrderCaps({ ...opts.caps }) : null;
    const keepAlive = { keepAlive: true, maxSockets: 64 };
    this.#client = new USDMClient(
      {
        api_key: opts.apiKey,
        api_secret: opts.apiSecret,
        baseUrl: opts.baseUrl.replace(/\/$/, ''),
        recvWindow: opts.recvWindow ?? 5000,
        disableTimeSync: true,
        // Raw axios errors carry the HTTP status, which decides retryable vs unknown.
        parseExceptions: false,
        // Node's HMAC is much faster than the client's default WebCrypto path.
        customSignMessageFn: async (message, secret) => createHmac('sha256', secret).update(message).digest('hex'),
      },
      { timeout: opts.timeoutMs ?? 10_000, httpAgent: new HttpAgent(keepAlive), httpsAgent: new HttpsAgent(keepAlive) },
    );
  }

  toString(): string {
    return `BinanceFuturesAdapter(${this.venue})`;
  }

  // ---- market data -------------------------------------------------------------------------------------

  async exchangeInfo(): Promise<Map<string, SymbolRules>> {
    if (this.#info && Date.now() - this.#info.at < this.#infoTtlMs) return this.#info.rules;
    const info = (await this.call('exchangeInfo', 'GET /fapi/v1/exchangeInfo', {}, () => this.#client.getExchangeInfo())) as unknown as { symbols: Raw[]; rateLimits?: Raw[] };
    const weightLimit = info.rateLimits?.find((l) => l.rateLimitType === 'REQUEST_WEIGHT' && l.interval === 'MINUTE' && num(l.intervalNum) === 1);
    if (weightLimit && num(weightLimit.limit) > 0) this.#reportedWeightLimit = num(weightLimit.limit);
    const rules = new Map<string, SymbolRules>();
    for (const s of info.symbols) {
      if (s.contractType !== 'PERPETUAL' || s.status !== 'TRADING') continue;
      const r = parseRules(s);
      rules.set(r.symbol, r);
    }
    this.#info = { at: Date.now(), rules };
    return rules;
  }

  async rules(symbol: string): Promise<SymbolRules> {
    let r = (await this.exchangeInfo()).get(symbol);
    // A symbol listed since the cache was filled: refresh, at most every 10 s per unknown symbol.
    const lastTry = this.#missRefresh.get(symbol) ?? 0;
    if (!r && Date.now() - lastTry > 10_000) {
      this.#missRefresh.set(symbol, Date.now());
      this.#info = null;
      r = (await this.exchangeInfo()).get(symbol);
    }
    if (!r) throw new ExchangeError('rejected', `unknown or non-trading symbol ${symbol}`, { code: BinanceCode.INVALID_SYMBOL });
    return r;
  }

  async klines(symbol: string, interval: string, limit: number): Promise<Candle[]> {
    const rows = await this.call('klines', 'GET /fapi/v1/klines', { limit }, () => this.#client.getKlines({ symbol, interval: interval as never, limit }));
    return rows.map((k) => ({ openTime: num(k[0]), open: num(k[1]), high: num(k[2]), low: num(k[3]), close: num(k[4]), volume: num(k[5]) }));
  }

  async markPrice(symbol: string): Promise<number> {
    const m = await this.call('markPrice', 'GET /fapi/v1/premiumIndex', { symbol }, () => this.#client.getMarkPrice({ symbol }));
    return num(m.markPrice);
  }

  async lastPrice(symbol: string): Promise<number> {
    const t = await this.call('lastPrice', 'GET /fapi/v1/ticker/price', { symbol }, () => this.#client.getSymbolPriceTicker({ symbol }));
    return num((t as { price?: unknown }).price);
  }

  async venueTime(symbol: string): Promise<number> {
    const m = await this.call('venueTime', 'GET /fapi/v1/premiumIndex', { symbol }, () => this.#client.getMarkPrice({ symbol }));
    return num(m.time);
  }

  async markPrices(): Promise<Map<string, number>> {
    const all = await this.call('markPrices', 'GET /fapi/v1/premiumIndex', {}, () => this.#client.getMarkPrice());
    return new Map(all.map((m) => [m.symbol, num(m.markPrice)]));
  }

  // ---- account -----------------------------------------------------------------------------------------

  async balances(): Promise<Balance[]> {
    const rows = (await this.call('balances', 'GET /fapi/v3/balance', {}, () => this.#client.getBalanceV3())) as unknown as Raw[];
    return rows.map((b) => {
      const wallet = num(b.crossWalletBalance ?? b.balance);
      const upnl = num(b.crossUnPnl);
      return { asset: String(b.asset), walletBalance: wallet, availableBalance: num(b.availableBalance), unrealizedProfit: upnl, marginBalance: wallet + upnl };
    });
  }

  async positions(symbol?: string): Promise<PositionInfo[]> {
    const rows = (await this.call('positions', 'GET /fapi/v3/positionRisk', { symbol }, () => this.#client.getPositionsV3(definedOnly({ symbol })))) as unknown as Raw[];
    return rows
      .filter((p) => num(p.positionAmt) !== 0)
      .map((p) => {
        const notional = num(p.notional);
        const im = num(p.initialMargin ?? p.positionInitialMargin);
        // v3 drops `leverage`; it is notional / initial margin.
        const leverage = num(p.leverage) || (im > 0 ? Math.round(Math.abs(notional) / im) : 0);
        return { symbol: String(p.symbol), positionAmt: num(p.positionAmt), entryPrice: num(p.entryPrice), markPrice: num(p.markPrice), unrealizedProfit: num(p.unRealizedProfit), leverage, notional };
      });
  }

  async prepareSymbol(symbol: string, leverage: number): Promise<void> {
    if (this.#caps) checkLeverage(this.#caps, symbol, leverage);
    if (!this.#oneWayChecked) {
      await this.ignoring(BinanceCode.NO_NEED_TO_CHANGE_POSITION_SIDE, 'positionMode', 'POST /fapi/v1/positionSide/dual', () => this.#client.setPositionMode({ dualSidePosition: 'false' }));
      this.#oneWayChecked = true;
    }
    if (this.#prepared.get(symbol) === leverage) return;
    await this.ignoring(BinanceCode.NO_NEED_TO_CHANGE_MARGIN_TYPE, 'marginType', 'POST /fapi/v1/marginType', () => this.#client.setMarginType({ symbol, marginType: 'CROSSED' }));
    await this.call('leverage', 'POST /fapi/v1/leverage', {}, () => this.#client.setLeverage({ symbol, leverage }));
    this.#prepared.set(symbol, leverage);
  }

  // ---- orders ------------------------------------------------------------------------------------------

  async placeMarketOrder(req: MarketOrderRequest): Promise<OrderState> {
    // Checked before anything is sent, exchange info included: a bad number never reaches the exchange.
    requirePositive(req.symbol, 'quantity', req.quantity, BinanceCode.QTY_LESS_THAN_ZERO);
    if (req.referencePrice !== undefined) requirePositive(req.symbol, 'reference price', req.referencePrice, BinanceCode.PRICE_LESS_THAN_ZERO);
    const r = await this.rules(req.symbol);
    const quantity = floorToStep(req.quantity, r.marketStepSize);
    const qty = Number(quantity);
    if (!(qty > 0)) {
      throw new ExchangeError('rejected', `${req.symbol}: quantity ${req.quantity} rounds to zero`, { code: BinanceCode.QTY_LESS_THAN_ZERO });
    }
    if (!req.reduceOnly) {
      // With caps the mark is read even when the caller sized from its own price: that price is held against it.
      const mark = this.#caps || req.referencePrice === undefined ? await this.markPrice(req.symbol) : undefined;
      if (mark !== undefined) requirePositive(req.symbol, 'mark price', mark, BinanceCode.PRICE_LESS_THAN_ZERO);
      const price = (req.referencePrice ?? mark)!;
      if (this.#caps && mark !== undefined) checkOpeningOrder(this.#caps, req.symbol, qty, price, mark);
      if (qty < r.minQty || qty * price < r.minNotional) {
        throw new ExchangeError('rejected', `${req.symbol}: order notional ${(qty * price).toFixed(2)} below minimum ${r.minNotional}`, { code: BinanceCode.MIN_NOTIONAL });
      }
    }
    const params = definedOnly({
      symbol: req.symbol,
      side: req.side,
      type: 'MARKET',
      quantity,
      newClientOrderId: req.clientOrderId,
      reduceOnly: req.reduceOnly ? 'true' : undefined,
      newOrderRespType: 'RESULT',
    });
    // postPrivate rather than submitNewOrder: the latter warns on every id without the library's broker prefix.
    const o = (await this.call('newOrder', 'POST /fapi/v1/order', {}, withinSendWindow('newOrder', req.sendBefore, () => this.#client.postPrivate('fapi/v1/order', params)))) as Raw;
    return parseOrder(o);
  }

  async getOrder(symbol: string, clientOrderId: string): Promise<OrderState | null> {
    const o = await this.nullIfMissing(() => this.call('getOrder', 'GET /fapi/v1/order', {}, () => this.#client.getOrder({ symbol, origClientOrderId: clientOrderId })));
    return o ? parseOrder(o as unknown as Raw) : null;
  }

  async cancelOrder(symbol: string, clientOrderId: string): Promise<void> {
    await this.call('cancelOrder', 'DELETE /fapi/v1/order', {}, () => this.#client.cancelOrder({ symbol, origClientOrderId: clientOrderId }));
  }

  async tradesForOrder(symbol: string, orderId: number): Promise<Fill[]> {
    const rows = (await this.call('userTrades', 'GET /fapi/v1/userTrades', {}, () => this.#client.getAccountTrades({ symbol, orderId } as never))) as unknown as Raw[];
    return rows.map(parseFill);
  }

  async tradesSince(symbol: string, startTime: number): Promise<Fill[]> {
    const rows = (await this.call('userTrades', 'GET /fapi/v1/userTrades', {}, () => this.#client.getAccountTrades({ symbol, startTime, limit: 1000 }))) as unknown as Raw[];
    return rows.map(parseFill);
  }


  async placeStopOrder(req: StopOrderRequest): Promise<AlgoOrderState> {
    requirePositive(req.symbol, 'trigger price', req.triggerPrice, BinanceCode.PRICE_LESS_THAN_ZERO);
    const r = await this.rules(req.symbol);
    const triggerPrice = roundToTick(req.triggerPrice, r.tickSize);
    if (!(Number(triggerPrice) > 0)) {
      throw new ExchangeError('rejected', `${req.symbol}: trigger price ${req.triggerPrice} rounds to ${triggerPrice}`, { code: BinanceCode.PRICE_LESS_THAN_ZERO });
    }
    const params = {
      algoType: 'CONDITIONAL',
      symbol: req.symbol,
      side: req.side,
      type: req.type,
      triggerPrice,
      workingType: 'MARK_PRICE',
      closePosition: 'true',
      clientAlgoId: req.clientAlgoId,
    };
    const a = (await this.call('newAlgoOrder', 'POST /fapi/v1/algoOrder', {}, withinSendWindow('newAlgoOrder', req.sendBefore, () => this.#client.postPrivate('fapi/v1/algoOrder', params)))) as Raw;
    return parseAlgo(a);
  }

  async getAlgoOrder(_symbol: string, clientAlgoId: string): Promise<AlgoOrderState | null> {
    const a = await this.nullIfMissing(() => this.call('getAlgoOrder', 'GET /fapi/v1/algoOrder', {}, () => this.#client.getAlgoOrder({ clientAlgoId })));
    return a ? parseAlgo(a as unknown as Raw) : null;
  }

  async openAlgoOrders(symbol?: string): Promise<AlgoOrderState[]> {
    const rows = (await this.call('openAlgoOrders', 'GET /fapi/v1/openAlgoOrders', definedOnly({ symbol }), () => this.#client.getOpenAlgoOrders(definedOnly({ symbol })))) as unknown as Raw[];
    return rows.map(parseAlgo);
  }

  async cancelAlgoOrder(_symbol: string, clientAlgoId: string): Promise<void> {
    await this.call('cancelAlgoOrder', 'DELETE /fapi/v1/algoOrder', {}, () => this.#client.cancelAlgoOrder({ clientAlgoId }));
  }

  /** Server time minus local time, re-measured (also done automatically on -1021). */
  async syncTime(): Promise<number> {
    const before = Date.now();
    const server = await this.#client.getServerTime();
    const after = Date.now();
    const offset = Math.round(server - (before + after) / 2);
    this.#client.setTimeOffset(offset);
    this.#timeOffsetMs = offset;
    return offset;
  }

  // ---- plumbing ----------------------------------------------------------------------------------------

  /**
   * Runs one request: waits out rate-limit bans and a used-up weight budget, maps every failure to an
   * ExchangeError, and after -1021 re-syncs the clock and tries once more (the request was not executed).
   * `endpoint` and `params` give the request's weight (exchange/weights.ts).
   */
  private async call<T>(what: string, endpoint: string, params: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    const [method, path] = endpoint.split(' ') as [string, string];
    const weight = requestWeight(method, path, { get: (k) => (params[k] === undefined ? undefined : String(params[k])) });
    await this.respectRateLimits(what, weight);
    const minute = this.#weight.minute;
    try {
      const result = await fn();
      this.noteUsedWeight(minute);
      return result;
    } catch (e) {
      const err = toExchangeError(what, e);
      if (err.retryAfterMs && err.retryAfterMs > 0 && (err.httpStatus === 429 || err.httpStatus === 418)) {
        this.#blockedUntil = Math.max(this.#blockedUntil, Date.now() + err.retryAfterMs);
      }
      if (err.code !== BinanceCode.INVALID_TIMESTAMP) throw err;
      await this.syncTime().catch(() => undefined);
      try {
        return await fn();
      } catch (e2) {
        throw toExchangeError(what, e2);
      }
    }
  }

  /**
   * Fails at once while banned (429 / 418 Retry-After); otherwise reserves the request's weight in the
   * current minute, waiting for the next minute when the budget would be passed. The adapter counts the
   * weight it sends itself, because the server's X-MBX-USED-WEIGHT-1M arrives only with each answer:
   * concurrent calls that all read the header before any answer came back would overshoot it together.
   */
  private async respectRateLimits(what: string, weight: number): Promise<void> {
    const wait = this.#blockedUntil - Date.now();
    if (wait > 0) throw new ExchangeError('retryable', `${what}: not sent, rate limited for another ${wait} ms`, { code: BinanceCode.TOO_MANY_REQUESTS, retryAfterMs: wait });
    const budget = Math.min(this.#weightLimit, this.#reportedWeightLimit) * WEIGHT_BUDGET_SHARE;
    if (!Number.isFinite(budget)) return;
    for (;;) {
      const now = this.#serverClock ? this.#serverClock() : Date.now() + this.#timeOffsetMs;
      const minute = Math.floor(now / 60_000);
      if (minute !== this.#weight.minute) this.#weight = { minute, used: 0 };
      // A single request heavier than the whole budget still goes, alone, at the start of a minute.
      if (this.#weight.used + weight <= budget || this.#weight.used === 0) break;
      // Short sleeps re-read the clock, so a test clock moved by hand is noticed.
      await sleep(Math.min(250, (minute + 1) * 60_000 - now + 5));
    }
    this.#weight.used += weight;
  }

  /** The server's count for the minute the request was sent in, when it is ahead of ours (other clients). */
  private noteUsedWeight(minute: number): void {
    if (minute !== this.#weight.minute) return;
    const used = this.#client.getRateLimitStates()['x-mbx-used-weight-1m'] ?? 0;
    if (used > this.#weight.used) this.#weight.used = used;
  }

  private async ignoring(code: number, what: string, endpoint: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await this.call(what, endpoint, {}, fn);
    } catch (e) {
      if (!(e instanceof ExchangeError && e.code === code)) throw e;
    }
  }

  private async nullIfMissing<T>(fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ExchangeError && e.code === BinanceCode.NO_SUCH_ORDER) return null;
      throw e;
    }
  }
}

interface AxiosLikeError {
  response?: { status?: number; data?: unknown; headers?: Record<string, unknown> };
  code?: string;
  message?: string;
}

/** Maps a raw client failure; never keeps the original object (its config carries the API key header). */
export function toExchangeError(what: string, e: unknown): ExchangeError {
  if (e instanceof ExchangeError) return e;
  const err = (typeof e === 'object' && e !== null ? e : { message: String(e) }) as AxiosLikeError;
  const res = err.response;
  if (res?.status !== undefined) {
    const data = res.data;
    const body = typeof data === 'object' && data !== null ? (data as { code?: unknown; msg?: unknown }) : {};
    const retryAfter = Number(res.headers?.['retry-after']);
    return classifyHttpFailure(what, {
      httpStatus: res.status,
      ...(typeof body.code === 'number' ? { code: body.code } : {}),
      msg: typeof body.msg === 'string' ? body.msg : typeof data === 'string' ? data.slice(0, 200) : '',
      ...(Number.isFinite(retryAfter) ? { retryAfterSec: retryAfter } : {}),
    });
  }
  if (err.code) return classifyNetworkFailure(what, err.code, err.message ?? '');
  // Thrown before anything was sent (bad arguments, missing keys).
  return new ExchangeError('rejected', `${what}: ${err.message ?? String(e)}`);
}

/**
 * SendWindow: a request that must not leave after `sendBefore`. Checked immediately before each send (after
 * any rate-limit wait, and again before the retry after -1021), so a caller that may have been superseded
 * (its activity timed out and a retry looked the id up) can never send late. A request signed before the
 * window closed is refused by the exchange once its recvWindow has passed, which bounds how long it can
 * still appear. Refusing is "not sent": `retryable`.
 */
function withinSendWindow<T>(what: string, sendBefore: number | undefined, fn: () => Promise<T>): () => Promise<T> {
  return () => {
    const late = sendBefore === undefined ? 0 : Date.now() - sendBefore;
    if (late > 0) return Promise.reject(new ExchangeError('retryable', `${what}: not sent, its send window closed ${late} ms ago`));
    return fn();
  };
}

/** Refuses a quantity or price that is not a finite number above zero, naming it. */
function requirePositive(symbol: string, what: string, value: number, code: number): void {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return;
  throw new ExchangeError('rejected', `${symbol}: ${what} ${String(value)} is not a finite number above zero; nothing sent`, { code });
}

function parseRules(s: Raw): SymbolRules {
  const filters = new Map((s.filters as Raw[]).map((f) => [String(f.filterType), f]));
  const price = filters.get('PRICE_FILTER') ?? {};
  const lot = filters.get('LOT_SIZE') ?? {};
  const market = filters.get('MARKET_LOT_SIZE') ?? lot;
  const notional = filters.get('MIN_NOTIONAL') ?? {};
  return {
    symbol: String(s.symbol),
    quoteAsset: String(s.marginAsset ?? s.quoteAsset),
    tickSize: num(price.tickSize),
    stepSize: num(lot.stepSize),
    marketStepSize: num(market.stepSize) || num(lot.stepSize),
    minQty: Math.max(num(lot.minQty), num(market.minQty)),
    marketMaxQty: num(market.maxQty) || num(lot.maxQty),
    minNotional: num(notional.notional),
  };
}

function parseFill(t: Raw): Fill {
  return {
    symbol: String(t.symbol),
    tradeId: num(t.id),
    orderId: num(t.orderId),
    side: t.side as OrderSide,
    price: num(t.price),
    qty: num(t.qty),
    quoteQty: num(t.quoteQty),
    commission: num(t.commission),
    commissionAsset: String(t.commissionAsset),
    realizedPnl: num(t.realizedPnl),
    time: num(t.time),
  };
}

function parseOrder(o: Raw): OrderState {
  return {
    symbol: String(o.symbol),
    orderId: num(o.orderId),
    clientOrderId: String(o.clientOrderId),
    side: o.side as OrderSide,
    status: o.status as OrderStatus,
    origQty: num(o.origQty),
    executedQty: num(o.executedQty),
    avgPrice: num(o.avgPrice),
    reduceOnly: o.reduceOnly === true || o.reduceOnly === 'true',
    updateTime: num(o.updateTime),
  };
}

function parseAlgo(a: Raw): AlgoOrderState {
  const actual = a.actualOrderId;
  return {
    symbol: String(a.symbol),
    algoId: num(a.algoId),
    clientAlgoId: String(a.clientAlgoId),
    orderType: (a.orderType ?? a.type) as AlgoOrderState['orderType'],
    side: a.side as OrderSide,
    triggerPrice: num(a.triggerPrice),
    status: a.algoStatus as AlgoStatus,
    actualOrderId: actual === undefined || actual === null || actual === '' ? null : num(actual),
    updateTime: num(a.updateTime),
  };
}

