import type { OrderSide } from '../../core/types.js';
import { ORDER_COUNT_LIMITS } from '../weights.js';
import { badRequest, mandatory } from './api-error.js';
import type { Engine, PartialFill } from './matching-engine.js';
import { intervalToMs } from './feed.js';
import type { AlgoType } from './state.js';
import { decimalsOfStep, exchangeInfoSymbol } from './symbols.js';
import { accountView, algoView, balanceView, fillView, orderView, positionView } from './views.js';

export type Params = Map<string, string>;

/** What a handler may know about the request beyond its parameters. */
export interface RequestContext {
  serverTime: number;
  /** The emptyPositionRead fault: answer position reads as if there were no positions. */
  hidePositions: boolean;
  /** The partialFill fault, taken only by an order that passed every check. */
  takePartialFill: () => PartialFill | null;
}

export interface Route {
  /** Needs X-MBX-APIKEY and a signature. */
  signed: boolean;
  /** Changes state: the answer waits for persistence, and "lost response" faults apply. */
  mutating: boolean;
  /** Reads positions (the emptyPositionRead fault applies). */
  positionRead?: boolean;
  handle: (engine: Engine, p: Params, ctx: RequestContext) => unknown;
}

const CLIENT_ID_PATTERN = /^[.A-Z:/a-z0-9_-]{1,36}$/;

function str(p: Params, name: string): string {
  const v = p.get(name);
  if (v === undefined || v === '') throw mandatory(name);
  return v;
}

function int(p: Params, name: string): number | undefined {
  const v = p.get(name);
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(-1100, `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`);
  return Number(v);
}

function side(p: Params): OrderSide {
  const s = str(p, 'side');
  if (s !== 'BUY' && s !== 'SELL') throw badRequest(-1117, 'Invalid side.');
  return s;
}

function bool(p: Params, name: string): boolean {
  const v = p.get(name);
  if (v === undefined) return false;
  if (v !== 'true' && v !== 'false') throw badRequest(-1130, `Data sent for parameter '${name}' is not valid.`);
  return v === 'true';
}

function clientId(p: Params, name: string): string {
  const id = str(p, name);
  if (!CLIENT_ID_PATTERN.test(id)) throw badRequest(-1100, `Illegal characters found in parameter '${name}'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.`);
  return id;
}

/** A decimal string that must sit on a grid of `step` (quantity on the lot step, price on the tick). */
function onGrid(p: Params, name: string, step: number): number {
  const raw = str(p, name);
  if (!/^\d+(\.\d+)?$/.test(raw)) throw badRequest(-1100, `Illegal characters found in parameter '${name}'.`);
  const value = Number(raw);
  const decimals = raw.includes('.') ? raw.length - raw.indexOf('.') - 1 : 0;
  const allowed = decimalsOfStep(step);
  const onStep = Math.abs(value / step - Math.round(value / step)) < 1e-9;
  if ((decimals > allowed && Number(value.toFixed(allowed)) !== value) || !onStep) {
    throw badRequest(-1111, 'Precision is over the maximum defined for this asset.');
  }
  return value;
}

function klines(engine: Engine, p: Params): unknown {
  const symbol = str(p, 'symbol');
  engine.requireRules(symbol);
  const intervalMs = intervalToMs(str(p, 'interval'));
  if (!intervalMs) throw badRequest(-1120, 'Invalid interval.');
  const limit = Math.min(1500, Math.max(1, int(p, 'limit') ?? 500));
  const q: { intervalMs: number; limit: number; startTime?: number; endTime?: number } = { intervalMs, limit };
  const startTime = int(p, 'startTime');
  const endTime = int(p, 'endTime');
  if (startTime !== undefined) q.startTime = startTime;
  if (endTime !== undefined) q.endTime = endTime;
  return engine.feed.klines(symbol, q);
}

export function premiumIndex(engine: Engine, symbol: string, fundingRate: number): Record<string, unknown> {
  const r = engine.requireRules(symbol);
  const mark = engine.mark(symbol) ?? 0;
  const now = engine.state.marketTime;
  const price = mark.toFixed(decimalsOfStep(r.tickSize));
  return {
    symbol,
    markPrice: price,
    indexPrice: price,
    estimatedSettlePrice: price,
    lastFundingRate: fundingRate.toFixed(8),
    interestRate: '0.00010000',
    nextFundingTime: (Math.floor(now / 28_800_000) + 1) * 28_800_000,
    // Market time: in replay this is the historical instant the prices belong to.
    time: now,
  };
}

function newOrder(engine: Engine, p: Params, ctx: RequestContext): unknown {
  const symbol = str(p, 'symbol');
  const rules = engine.requireRules(symbol);
  const s = side(p);
  const type = str(p, 'type');
  if (['STOP_MARKET', 'TAKE_PROFIT_MARKET', 'TRAILING_STOP_MARKET', 'STOP', 'TAKE_PROFIT'].includes(type)) {
    throw badRequest(-4120, 'Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.');
  }
  if (type !== 'MARKET') throw badRequest(-1116, 'Invalid orderType.');
  const cid = p.has('newClientOrderId') ? clientId(p, 'newClientOrderId') : `local-${ctx.serverTime}-${Math.random().toString(36).slice(2, 10)}`;
  const quantity = onGrid(p, 'quantity', rules.marketStepSize);
  if (quantity <= 0) throw badRequest(-4003, 'Quantity less than or equal to zero.');
  if (quantity < rules.minQty) throw badRequest(-4004, 'Quantity less than min quantity.');
  if (quantity > rules.marketMaxQty) throw badRequest(-4005, 'Quantity greater than max quantity.');
  const order = engine.placeMarketOrder({ symbol, side: s, quantity, reduceOnly: bool(p, 'reduceOnly'), clientOrderId: cid }, ctx.takePartialFill);
  // Binance futures answers ACK (status NEW, nothing executed yet) unless RESULT is asked for.
  return orderView(engine, order, p.get('newOrderRespType') !== 'RESULT');
}

function orderQuery(p: Params): { symbol: string; orderId?: number; clientOrderId?: string } {
  const symbol = str(p, 'symbol');
  const orderId = int(p, 'orderId');
  const clientOrderId = p.get('origClientOrderId');
  if (orderId === undefined && !clientOrderId) throw mandatory('orderId');
  return orderId !== undefined ? { symbol, orderId } : { symbol, clientOrderId: clientOrderId! };
}

function newAlgoOrder(engine: Engine, p: Params): unknown {
  const symbol = str(p, 'symbol');
  const rules = engine.requireRules(symbol);
  if (str(p, 'algoType') !== 'CONDITIONAL') throw badRequest(-1130, "Data sent for parameter 'algoType' is not valid.");
  const type = str(p, 'type');
  if (type !== 'STOP_MARKET' && type !== 'TAKE_PROFIT_MARKET') throw badRequest(-1116, 'Invalid orderType.');
  const closePosition = bool(p, 'closePosition');
  let quantity = 0;
  if (closePosition) {
    if (p.has('quantity')) throw badRequest(-1106, "Parameter 'quantity' sent when not required.");
  } else {
    quantity = onGrid(p, 'quantity', rules.stepSize);
    if (quantity <= 0) throw badRequest(-4003, 'Quantity less than or equal to zero.');
  }
  const workingType = p.get('workingType') ?? 'CONTRACT_PRICE';
  if (workingType !== 'MARK_PRICE' && workingType !== 'CONTRACT_PRICE') throw badRequest(-1130, "Data sent for parameter 'workingType' is not valid.");
  const rec = engine.placeAlgoOrder({
    symbol,
    side: side(p),
    orderType: type as AlgoType,
    triggerPrice: onGrid(p, 'triggerPrice', rules.tickSize),
    quantity,
    closePosition,
    reduceOnly: bool(p, 'reduceOnly'),
    workingType,
    clientAlgoId: p.has('clientAlgoId') ? clientId(p, 'clientAlgoId') : `local-algo-${engine.state.nextAlgoId}`,
  });
  return algoView(engine, rec);
}

function algoQuery(p: Params): { algoId?: number; clientAlgoId?: string; symbol?: string } {
  const algoId = int(p, 'algoId');
  const clientAlgoId = p.get('clientAlgoId');
  const symbol = p.get('symbol');
  if (algoId === undefined && !clientAlgoId) throw mandatory('algoId');
  return { ...(algoId !== undefined ? { algoId } : { clientAlgoId: clientAlgoId! }), ...(symbol ? { symbol } : {}) };
}

/** positionRisk: v2 lists every symbol (flat ones with amount 0), v3 only symbols with a position. */
function positions(engine: Engine, p: Params, onlyOpen: boolean, hide: boolean): unknown {
  const symbol = p.get('symbol');
  if (symbol) engine.requireRules(symbol);
  const held = hide ? [] : Object.keys(engine.state.positions);
  const symbols = onlyOpen ? held.filter((s) => !symbol || s === symbol) : symbol ? [symbol] : engine.feed.symbols();
  return symbols.map((s) => positionView(engine, s, hide));
}

/** Request weights are charged by the server from exchange/weights.ts. */
export function buildRoutes(fundingRate: number, weightLimitPerMinute: () => number): Map<string, Route> {
  const pub = (handle: Route['handle']): Route => ({ signed: false, mutating: false, handle });
  const read = (handle: Route['handle']): Route => ({ signed: true, mutating: false, handle });
  const write = (handle: Route['handle']): Route => ({ signed: true, mutating: true, handle });
  const positionRead = (handle: Route['handle']): Route => ({ signed: true, mutating: false, positionRead: true, handle });
  const balances = (e: Engine): unknown => Object.keys(e.state.wallets).map((a) => balanceView(e, a));

  return new Map<string, Route>([
    ['GET /fapi/v1/ping', pub(() => ({}))],
    ['GET /fapi/v1/time', pub((_e, _p, { serverTime }) => ({ serverTime }))],
    ['GET /fapi/v1/exchangeInfo', pub((e, _p, { serverTime }) => ({
      timezone: 'UTC',
      serverTime,
      futuresType: 'U_MARGINED',
      rateLimits: [
        { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: Math.min(weightLimitPerMinute(), Number.MAX_SAFE_INTEGER) },
        { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: ORDER_COUNT_LIMITS.perMinute },
        { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: ORDER_COUNT_LIMITS.per10s },
      ],
      exchangeFilters: [],
      assets: ['USDT', 'USDC'].map((asset) => ({ asset, marginAvailable: true, autoAssetExchange: '0' })),
      symbols: e.allRules().map((r) => exchangeInfoSymbol(r, e.feed.describe(r.symbol)?.listedAt ?? 0)),
    }))],
    ['GET /fapi/v1/klines', pub((e, p) => klines(e, p))],
    ['GET /fapi/v1/premiumIndex', pub((e, p) => {
      const symbol = p.get('symbol');
      return symbol ? premiumIndex(e, symbol, fundingRate) : e.allRules().map((r) => premiumIndex(e, r.symbol, fundingRate));
    })],
    ['GET /fapi/v1/ticker/price', pub((e, p) => {
      const one = (symbol: string): Record<string, unknown> => {
        const m = premiumIndex(e, symbol, fundingRate);
        return { symbol, price: m.markPrice, time: m.time };
      };
      const symbol = p.get('symbol');
      return symbol ? one(symbol) : e.allRules().map((r) => one(r.symbol));
    })],
    ['GET /fapi/v2/balance', read(balances)],
    ['GET /fapi/v3/balance', read(balances)],
    ['GET /fapi/v2/account', positionRead((e, _p, ctx) => accountView(e, ctx.hidePositions))],
    ['GET /fapi/v3/account', positionRead((e, _p, ctx) => accountView(e, ctx.hidePositions))],
    ['GET /fapi/v2/positionRisk', positionRead((e, p, ctx) => positions(e, p, false, ctx.hidePositions))],
    ['GET /fapi/v3/positionRisk', positionRead((e, p, ctx) => positions(e, p, true, ctx.hidePositions))],
    ['POST /fapi/v1/leverage', write((e, p) => {
      const symbol = str(p, 'symbol');
      const leverage = int(p, 'leverage');
      if (leverage === undefined) throw mandatory('leverage');
      e.setLeverage(symbol, leverage);
      return { symbol, leverage, maxNotionalValue: '100000000' };
    })],
    ['POST /fapi/v1/marginType', write((e, p) => {
      e.requireRules(str(p, 'symbol'));
      const type = str(p, 'marginType');
      if (type === 'CROSSED') throw badRequest(-4046, 'No need to change margin type.');
      throw badRequest(-1130, "Data sent for parameter 'marginType' is not valid: the local exchange is cross margin only.");
    })],
    ['GET /fapi/v1/positionSide/dual', read(() => ({ dualSidePosition: false }))],
    ['POST /fapi/v1/positionSide/dual', write((_e, p) => {
      if (str(p, 'dualSidePosition') === 'false') throw badRequest(-4059, 'No need to change position side.');
      throw badRequest(-1130, "Data sent for parameter 'dualSidePosition' is not valid: the local exchange is one-way mode only.");
    })],
    ['POST /fapi/v1/order', write((e, p, ctx) => newOrder(e, p, ctx))],
    ['GET /fapi/v1/order', read((e, p) => {
      const q = orderQuery(p);
      return orderView(e, e.getOrder(q.symbol, q.orderId, q.clientOrderId));
    })],
    ['DELETE /fapi/v1/order', write((e, p) => {
      const q = orderQuery(p);
      return orderView(e, e.cancelOrder(q.symbol, q.orderId, q.clientOrderId));
    })],
    ['GET /fapi/v1/openOrder', read((e, p) => {
      const q = orderQuery(p);
      const open = e.openOrderList(q.symbol).find((o) => (q.orderId !== undefined ? o.orderId === q.orderId : o.clientOrderId === q.clientOrderId));
      if (!open) throw badRequest(-2013, 'Order does not exist.');
      return orderView(e, open);
    })],
    ['GET /fapi/v1/openOrders', read((e, p) => {
      const symbol = p.get('symbol');
      if (symbol) e.requireRules(symbol);
      return e.openOrderList(symbol).map((o) => orderView(e, o));
    })],
    ['GET /fapi/v1/userTrades', read((e, p) => {
      const symbol = str(p, 'symbol');
      e.requireRules(symbol);
      const q: Parameters<Engine['fills']>[1] = { limit: Math.min(1000, Math.max(1, int(p, 'limit') ?? 500)) };
      for (const k of ['orderId', 'startTime', 'endTime', 'fromId'] as const) {
        const v = int(p, k);
        if (v !== undefined) q[k] = v;
      }
      return e.fills(symbol, q).map((f) => fillView(e, f));
    })],
    ['POST /fapi/v1/algoOrder', write((e, p) => newAlgoOrder(e, p))],
    ['GET /fapi/v1/algoOrder', read((e, p) => {
      const q = algoQuery(p);
      return algoView(e, e.getAlgoOrder(q.algoId, q.clientAlgoId, q.symbol));
    })],
    ['DELETE /fapi/v1/algoOrder', write((e, p) => {
      const q = algoQuery(p);
      const a = e.cancelAlgoOrder(q.algoId, q.clientAlgoId, q.symbol);
      return { algoId: a.algoId, clientAlgoId: a.clientAlgoId, code: '200', msg: 'success' };
    })],
    ['GET /fapi/v1/openAlgoOrders', read((e, p) => e.openAlgoOrders(p.get('symbol')).map((a) => algoView(e, a)))],
  ]);
}
