import { FUNDING_INTERVAL_MS, fillFee, slippedPrice } from '../../core/costs.js';
import type { OrderSide } from '../../core/types.js';
import { floorToStep } from '../rounding.js';
import type { SymbolRules } from '../types.js';
import { badRequest, noSuchOrder, unknownOrder } from './api-error.js';
import type { MarketFeed } from './feed.js';
import { ClientIdIndex, algoFindable, isOpenOrder, orderFindable } from './order-index.js';
import type { AlgoRecord, AlgoType, FillRecord, OrderKind, OrderRecord, OrderStatus, SimState } from './state.js';
import { decimalsOfStep, quoteOf, rulesFor } from './symbols.js';

export interface EngineOptions {
  slippageBps: number;
  /** Funding rate charged every 8 h (longs pay shorts when positive). */
  fundingRate: number;
  /** Maintenance margin as a fraction of notional. */
  maintenanceMarginRate: number;
  defaultLeverage: number;
  /** Liquidation is checked when market time enters a new step of this size (and on every manual price). */
  checkEveryMs: number;
  /** Called after every change of balances, positions, orders or fills. */
  onMutate: () => void;
}

/** Orders and fills kept for queries; older ones are dropped (Binance also forgets old orders). */
const MAX_KEPT_RECORDS = 50_000;
const round8 = (x: number): number => Math.round(x * 1e8) / 1e8;

export interface NewOrder {
  symbol: string;
  side: OrderSide;
  quantity: number;
  reduceOnly: boolean;
  clientOrderId: string;
}

/** How much of a MARKET order fills at once, and what becomes of the rest (the partialFill fault switch). */
export interface PartialFill {
  fraction: number;
  status: 'EXPIRED' | 'PARTIALLY_FILLED' | 'NEW';
}

/** What a client sends for a conditional order; the rest of an AlgoRecord is the exchange's. */
export type NewAlgoOrder = Pick<
  AlgoRecord,
  'symbol' | 'side' | 'orderType' | 'triggerPrice' | 'quantity' | 'closePosition' | 'reduceOnly' | 'workingType' | 'clientAlgoId'
>;

/**
 * The matching engine and the account: MARKET orders fill at the feed price plus slippage, one-way positions
 * in a cross-margin wallet per quote asset, conditional (algo) orders triggered on the mark price at every
 * intrabar point, funding at the 8-hour marks and a liquidation check.
 *
 * A MARKET order normally fills at once. With the partialFill switch part of it may stay open (NEW or
 * PARTIALLY_FILLED): the remainder fills at the next price step (the next intrabar point of a replay, the
 * next price set by hand), under the rules in force then (reduce-only, margin); if they refuse it, the
 * remainder expires. An open order can be cancelled before that.
 */
export class Engine {
  private readonly rulesCache = new Map<string, SymbolRules>();
  private readonly ordersById = new Map<number, OrderRecord>();
  /** Key `SYMBOL|clientOrderId`: Binance scopes order client ids per symbol (queries need the symbol). */
  private readonly ordersByClient = new ClientIdIndex<OrderRecord>();
  private readonly openOrders = new Map<string, Set<OrderRecord>>();
  private readonly fillsByOrder = new Map<number, FillRecord[]>();
  /** Key clientAlgoId alone: algo orders are queried and cancelled by client id without a symbol. */
  private readonly algosByClient = new ClientIdIndex<AlgoRecord>();
  private readonly algosById = new Map<number, AlgoRecord>();
  /** Symbols with NEW algo orders: only these need every intrabar point walked. */
  private readonly openAlgos = new Map<string, Set<AlgoRecord>>();

  constructor(
    readonly feed: MarketFeed,
    readonly state: SimState,
    private readonly opts: EngineOptions,
  ) {
    for (const o of state.orders) this.indexOrder(o);
    for (const f of state.fills) this.indexFill(f);
    for (const a of state.algoOrders) this.indexAlgo(a);
  }

  // ---- market data -------------------------------------------------------------------------------------

  rules(symbol: string): SymbolRules | undefined {
    let r = this.rulesCache.get(symbol);
    if (!r) {
      r = this.feed.rules?.(symbol);
      if (!r) {
        const d = this.feed.describe(symbol);
        if (!d || !quoteOf(symbol)) return undefined;
        r = rulesFor(symbol, d.referencePrice, d.priceDecimals);
      }
      this.rulesCache.set(symbol, r);
    }
    return r;
  }

  allRules(): SymbolRules[] {
    return this.feed.symbols().flatMap((s) => this.rules(s) ?? []);
  }

  /** Current mark price; the local exchange has no separate index, so mark = last price of the path. */
  mark(symbol: string): number | undefined {
    return this.feed.price(symbol);
  }

  requireRules(symbol: string | undefined): SymbolRules {
    const r = symbol ? this.rules(symbol) : undefined;
    if (!r) throw badRequest(-1121, 'Invalid symbol.');
    return r;
  }

  /**
   * Brings the account up to the feed's current market time: every intrabar point of symbols with open
   * algo orders is checked (so a fast clock cannot jump over a stop), then funding and liquidation.
   */
  advance(): void {
    const to = this.feed.now();
    const from = this.state.marketTime;
    if (to <= from) return;
    // Manual prices fill open remainders when set (onPriceSet); the other feeds have a path to walk.
    if (this.feed.kind !== 'manual') this.fillOpenOrdersUpTo(to);
    for (const [symbol, algos] of this.openAlgos) {
      if (algos.size === 0) continue;
      this.feed.walk(symbol, from, to, (t, price) => this.checkTriggers(symbol, t, price));
    }
    this.state.marketTime = to;
    this.settleFunding(to);
    // Per request the market moves by milliseconds; a full margin check once per price step is enough.
    if (Math.floor(to / this.opts.checkEveryMs) !== Math.floor(from / this.opts.checkEveryMs)) this.checkLiquidation(to);
  }

  /** A manual price change: triggers and liquidation are checked at once. */
  onPriceSet(symbol: string, price: number): void {
    const t = Math.max(this.state.marketTime, this.feed.now());
    this.state.marketTime = t;
    this.state.manualPrices[symbol] = price;
    for (const o of [...(this.openOrders.get(symbol) ?? [])]) this.fillRemainder(o, t, price);
    this.checkTriggers(symbol, t, price);
    this.checkLiquidation(t);
    this.opts.onMutate();
  }

  // ---- orders ------------------------------------------------------------------------------------------

  /**
   * A MARKET order from a client. Checks, in Binance's order: client id unique among open orders (-4116),
   * min notional unless reduce-only (-4164), reduce-only (-2022) and margin for the whole order (-2019).
   */
  placeMarketOrder(o: NewOrder, takePartialFill: () => PartialFill | null = () => null): OrderRecord {
    const rules = this.requireRules(o.symbol);
    const price = this.mark(o.symbol);
    if (price === undefined) throw badRequest(-1121, 'Invalid symbol.');
    if (this.ordersByClient.all(clientKey(o.symbol, o.clientOrderId)).some(isOpenOrder)) throw badRequest(-4116, 'ClientOrderId is duplicated.');
    if (!o.reduceOnly && o.quantity * price < rules.minNotional) {
      throw badRequest(-4164, `Order's notional must be no smaller than ${rules.minNotional} (unless you choose reduce only).`);
    }
    const quantity = this.allowedQuantity(o.symbol, o.side, o.quantity, o.reduceOnly, price);
    const t = this.state.marketTime;
    const partial = takePartialFill();
    const order = this.newOrder(o.symbol, o.side, quantity, o.reduceOnly, false, 'MARKET', o.clientOrderId, t);
    const now = partial ? Number(floorToStep(quantity * partial.fraction, rules.marketStepSize)) : quantity;
    if (now > 0) this.fill(order, now, price, t);
    if (!partial) order.status = 'FILLED';
    else if (partial.status === 'EXPIRED') order.status = 'EXPIRED';
    else order.status = order.executedQty > 0 ? 'PARTIALLY_FILLED' : 'NEW';
    this.record(order);
    return order;
  }

  /** By order id, or the newest findable order with that client id. */
  getOrder(symbol: string, orderId?: number, clientOrderId?: string): OrderRecord {
    const o = this.findOrder(symbol, orderId, clientOrderId);
    if (!o) throw noSuchOrder();
    return o;
  }

  /** Cancels an open order (its filled part stays); anything else is "Unknown order sent." (-2011). */
  cancelOrder(symbol: string, orderId?: number, clientOrderId?: string): OrderRecord {
    const o = this.findOrder(symbol, orderId, clientOrderId);
    if (!o || !isOpenOrder(o)) throw unknownOrder();
    this.finish(o, 'CANCELED', this.state.marketTime);
    return o;
  }

  openOrderList(symbol?: string): OrderRecord[] {
    const sets = symbol ? [this.openOrders.get(symbol) ?? new Set<OrderRecord>()] : [...this.openOrders.values()];
    return sets.flatMap((s) => [...s]);
  }

  private findOrder(symbol: string, orderId?: number, clientOrderId?: string): OrderRecord | undefined {
    const now = this.state.marketTime;
    const o = orderId !== undefined ? this.ordersById.get(orderId) : this.ordersByClient.latest(clientKey(symbol, clientOrderId!), (x) => orderFindable(x, now));
    return o && o.symbol === symbol && orderFindable(o, now) ? o : undefined;
  }

  fills(symbol: string, q: { orderId?: number; startTime?: number; endTime?: number; fromId?: number; limit: number }): FillRecord[] {
    const source = q.orderId !== undefined ? (this.fillsByOrder.get(q.orderId) ?? []) : this.state.fills;
    const out: FillRecord[] = [];
    for (const f of source) {
      if (f.symbol !== symbol) continue;
      if (q.startTime !== undefined && f.time < q.startTime) continue;
      if (q.endTime !== undefined && f.time > q.endTime) continue;
      if (q.fromId !== undefined && f.id < q.fromId) continue;
      out.push(f);
    }
    // Without fromId Binance returns the most recent `limit` trades.
    return q.fromId !== undefined ? out.slice(0, q.limit) : out.slice(-q.limit);
  }

  setLeverage(symbol: string, leverage: number): void {
    this.requireRules(symbol);
    if (!Number.isInteger(leverage) || leverage < 1 || leverage > 125) throw badRequest(-4028, `Leverage ${leverage} is not valid`);
    this.state.leverage[symbol] = leverage;
    this.opts.onMutate();
  }

  leverageOf(symbol: string): number {
    return this.state.leverage[symbol] ?? this.opts.defaultLeverage;
  }

  // ---- algo (conditional) orders -----------------------------------------------------------------------

  placeAlgoOrder(a: NewAlgoOrder): AlgoRecord {
    this.requireRules(a.symbol);
    const price = this.mark(a.symbol);
    if (price === undefined) throw badRequest(-1121, 'Invalid symbol.');
    // Like order client ids, unique among open (NEW) algo orders only.
    if (this.algosByClient.all(a.clientAlgoId).some((x) => x.status === 'NEW')) throw badRequest(-4116, 'ClientOrderId is duplicated.');
    if ((this.openAlgos.get(a.symbol)?.size ?? 0) >= 10) throw badRequest(-4045, 'Reach max stop order limit.');
    if (triggered(a.orderType, a.side, a.triggerPrice, price)) throw badRequest(-2021, 'Order would immediately trigger.');
    const t = this.state.marketTime;
    const rec: AlgoRecord = {
      algoId: this.state.nextAlgoId++,
      clientAlgoId: a.clientAlgoId,
      symbol: a.symbol,
      side: a.side,
      orderType: a.orderType,
      triggerPrice: a.triggerPrice,
      quantity: a.quantity,
      closePosition: a.closePosition,
      reduceOnly: a.reduceOnly,
      workingType: a.workingType,
      status: 'NEW',
      actualOrderId: null,
      actualPrice: 0,
      createTime: t,
      updateTime: t,
      triggerTime: 0,
    };
    this.state.algoOrders.push(rec);
    this.indexAlgo(rec);
    this.prune();
    this.opts.onMutate();
    return rec;
  }

  getAlgoOrder(algoId?: number, clientAlgoId?: string, symbol?: string): AlgoRecord {
    const a = this.findAlgo(algoId, clientAlgoId, symbol);
    if (!a) throw noSuchOrder();
    return a;
  }

  cancelAlgoOrder(algoId?: number, clientAlgoId?: string, symbol?: string): AlgoRecord {
    const a = this.findAlgo(algoId, clientAlgoId, symbol);
    if (!a || a.status !== 'NEW') throw unknownOrder();
    this.closeAlgo(a, 'CANCELED', this.state.marketTime);
    this.opts.onMutate();
    return a;
  }

  openAlgoOrders(symbol?: string): AlgoRecord[] {
    const sets = symbol ? [this.openAlgos.get(symbol) ?? new Set<AlgoRecord>()] : [...this.openAlgos.values()];
    return sets.flatMap((s) => [...s]);
  }

  private findAlgo(algoId?: number, clientAlgoId?: string, symbol?: string): AlgoRecord | undefined {
    const now = this.state.marketTime;
    const fits = (a: AlgoRecord): boolean => algoFindable(a, now) && (!symbol || a.symbol === symbol);
    const a = algoId !== undefined ? this.algosById.get(algoId) : this.algosByClient.latest(clientAlgoId!, fits);
    return a && fits(a) ? a : undefined;
  }

  private checkTriggers(symbol: string, t: number, price: number): void {
    const open = this.openAlgos.get(symbol);
    if (!open || open.size === 0) return;
    for (const a of [...open]) {
      if (!triggered(a.orderType, a.side, a.triggerPrice, price)) continue;
      a.triggerTime = t;
      this.opts.onMutate();
      const amt = this.state.positions[symbol]?.amt ?? 0;
      const closes = a.side === 'SELL' ? amt > 0 : amt < 0;
      if (!closes) {
        // Nothing left to protect: the system cancels the order (Binance reports EXPIRED).
        this.closeAlgo(a, 'EXPIRED', t);
        continue;
      }
      const qty = a.closePosition ? Math.abs(amt) : Math.min(a.quantity, Math.abs(amt));
      try {
        const order = this.executeNow(symbol, a.side, qty, a.closePosition, t, price, 'MARKET', `algo-${a.algoId}`);
        a.actualOrderId = order.orderId;
        a.actualPrice = order.avgPrice;
        this.closeAlgo(a, 'FINISHED', t);
      } catch {
        this.closeAlgo(a, 'REJECTED', t);
      }
    }
  }

  private closeAlgo(a: AlgoRecord, status: AlgoRecord['status'], t: number): void {
    a.status = status;
    a.updateTime = t;
    this.openAlgos.get(a.symbol)?.delete(a);
  }

  // ---- account -----------------------------------------------------------------------------------------

  /**
   * The quantity an order may trade now: reduce-only is capped at the position (-2022 without one to
   * reduce), and the part that opens or grows a position needs `notional / leverage + fee` of available
   * balance (-2019).
   */
  private allowedQuantity(symbol: string, side: OrderSide, quantity: number, reduceOnly: boolean, price: number): number {
    const amt = this.state.positions[symbol]?.amt ?? 0;
    const dir = side === 'BUY' ? 1 : -1;
    let qty = quantity;
    if (reduceOnly) {
      if (amt === 0 || Math.sign(amt) === dir) throw badRequest(-2022, 'ReduceOnly Order is rejected.');
      qty = Math.min(qty, Math.abs(amt));
    }
    const fillPrice = this.fillPrice(symbol, side, price);
    const opening = qty - (Math.sign(amt) === -dir ? Math.min(qty, Math.abs(amt)) : 0);
    if (opening > 0) {
      const required = (opening * fillPrice) / this.leverageOf(symbol) + round8(fillFee(fillPrice, qty));
      if (this.available(this.requireRules(symbol).quoteAsset) < required) throw badRequest(-2019, 'Margin is insufficient.');
    }
    return qty;
  }

  private fillPrice(symbol: string, side: OrderSide, price: number): number {
    return Number(slippedPrice(price, side, this.opts.slippageBps).toFixed(decimalsOfStep(this.requireRules(symbol).tickSize)));
  }

  /** An order the exchange itself sends (stop trigger, liquidation): checked and filled whole at once. */
  private executeNow(symbol: string, side: OrderSide, quantity: number, closePosition: boolean, t: number, price: number, type: OrderKind, clientOrderId: string): OrderRecord {
    const qty = this.allowedQuantity(symbol, side, quantity, true, price);
    const order = this.newOrder(symbol, side, qty, true, closePosition, type, clientOrderId, t);
    this.fill(order, qty, price, t);
    order.status = 'FILLED';
    this.record(order);
    return order;
  }

  private newOrder(symbol: string, side: OrderSide, qty: number, reduceOnly: boolean, closePosition: boolean, type: OrderKind, clientOrderId: string, t: number): OrderRecord {
    return {
      orderId: this.state.nextOrderId++,
      symbol,
      clientOrderId,
      side,
      type,
      origQty: qty,
      executedQty: 0,
      avgPrice: 0,
      cumQuote: 0,
      status: 'NEW',
      reduceOnly,
      closePosition,
      time: t,
      updateTime: t,
    };
  }

  /** Stores a new order and indexes it (open ones also under their symbol). */
  private record(order: OrderRecord): void {
    this.state.orders.push(order);
    this.indexOrder(order);
    this.prune();
    this.opts.onMutate();
  }

  /** Trades `qty` of an order at `price` plus slippage: position, average entry, realized P&L, fee, one fill. */
  private fill(order: OrderRecord, qty: number, price: number, t: number): void {
    const { symbol, side } = order;
    const rules = this.requireRules(symbol);
    const asset = rules.quoteAsset;
    const pos = this.state.positions[symbol] ?? { amt: 0, entryPrice: 0, updateTime: t };
    const dir = side === 'BUY' ? 1 : -1;
    const fillPrice = this.fillPrice(symbol, side, price);
    const closing = Math.sign(pos.amt) === -dir ? Math.min(qty, Math.abs(pos.amt)) : 0;
    const opening = qty - closing;
    const fee = round8(fillFee(fillPrice, qty));
    const realized = round8(closing * (fillPrice - pos.entryPrice) * Math.sign(pos.amt));
    const stepDecimals = decimalsOfStep(rules.stepSize);
    const newAmt = Number((pos.amt + dir * qty).toFixed(stepDecimals));
    let entry = pos.entryPrice;
    if (newAmt === 0) entry = 0;
    else if (Math.sign(newAmt) !== Math.sign(pos.amt)) entry = fillPrice;
    else if (opening > 0) entry = (Math.abs(pos.amt) * pos.entryPrice + opening * fillPrice) / Math.abs(newAmt);
    if (newAmt === 0) delete this.state.positions[symbol];
    else this.state.positions[symbol] = { amt: newAmt, entryPrice: entry, updateTime: t };
    this.state.wallets[asset] = round8((this.state.wallets[asset] ?? 0) + realized - fee);

    const quote = round8(fillPrice * qty);
    const executed = Number((order.executedQty + qty).toFixed(stepDecimals));
    order.avgPrice = Number(((order.avgPrice * order.executedQty + fillPrice * qty) / executed).toFixed(8));
    order.executedQty = executed;
    order.cumQuote = round8(order.cumQuote + quote);
    order.updateTime = t;
    const record: FillRecord = {
      id: this.state.nextTradeId++,
      orderId: order.orderId,
      symbol,
      side,
      price: fillPrice,
      qty,
      quoteQty: quote,
      commission: fee,
      commissionAsset: asset,
      realizedPnl: realized,
      time: t,
    };
    this.state.fills.push(record);
    this.indexFill(record);
    this.opts.onMutate();
  }

  /** An open order's remainder at a new price: filled as far as the rules allow now, the rest expires. */
  private fillRemainder(order: OrderRecord, t: number, price: number): void {
    const rules = this.requireRules(order.symbol);
    const remaining = Number((order.origQty - order.executedQty).toFixed(decimalsOfStep(rules.stepSize)));
    let qty = 0;
    try {
      qty = this.allowedQuantity(order.symbol, order.side, remaining, order.reduceOnly, price);
    } catch {
      // Refused now (nothing left to reduce, margin gone): the remainder expires.
    }
    if (qty > 0) this.fill(order, qty, price, t);
    this.finish(order, qty === remaining ? 'FILLED' : 'EXPIRED', t);
  }

  private fillOpenOrdersUpTo(to: number): void {
    const step = this.opts.checkEveryMs;
    for (const open of this.openOrders.values()) {
      for (const o of [...open]) {
        const at = (Math.floor(o.updateTime / step) + 1) * step;
        if (at > to) continue;
        const price = this.feed.price(o.symbol, at);
        if (price !== undefined) this.fillRemainder(o, at, price);
      }
    }
  }

  private finish(order: OrderRecord, status: OrderStatus, t: number): void {
    order.status = status;
    order.updateTime = t;
    this.openOrders.get(order.symbol)?.delete(order);
    this.opts.onMutate();
  }

  unrealized(symbol: string): number {
    const p = this.state.positions[symbol];
    const m = this.mark(symbol);
    if (!p || m === undefined) return 0;
    return (m - p.entryPrice) * p.amt;
  }

  /** Wallet, unrealized P&L and margins of one margin asset. */
  accountOf(asset: string): { wallet: number; unrealized: number; initialMargin: number; maintenance: number; available: number } {
    const wallet = this.state.wallets[asset] ?? 0;
    let unrealized = 0;
    let initialMargin = 0;
    let maintenance = 0;
    for (const [symbol, p] of Object.entries(this.state.positions)) {
      if (quoteOf(symbol) !== asset) continue;
      const m = this.mark(symbol) ?? p.entryPrice;
      const notional = Math.abs(p.amt * m);
      unrealized += (m - p.entryPrice) * p.amt;
      initialMargin += notional / this.leverageOf(symbol);
      maintenance += notional * this.opts.maintenanceMarginRate;
    }
    return { wallet, unrealized, initialMargin, maintenance, available: Math.max(0, wallet + unrealized - initialMargin) };
  }

  private available(asset: string): number {
    return this.accountOf(asset).available;
  }

  private settleFunding(to: number): void {
    let next = (Math.floor(this.state.lastFundingTime / FUNDING_INTERVAL_MS) + 1) * FUNDING_INTERVAL_MS;
    if (next > to) return;
    for (; next <= to; next += FUNDING_INTERVAL_MS) {
      for (const [symbol, p] of Object.entries(this.state.positions)) {
        const asset = quoteOf(symbol)!;
        const m = this.feed.price(symbol, next) ?? p.entryPrice;
        const amount = round8(-p.amt * m * this.opts.fundingRate);
        if (amount === 0) continue;
        this.state.wallets[asset] = round8((this.state.wallets[asset] ?? 0) + amount);
        this.state.funding.push({ symbol, asset, amount, rate: this.opts.fundingRate, time: next });
      }
    }
    this.state.lastFundingTime = next - FUNDING_INTERVAL_MS;
    if (this.state.funding.length > MAX_KEPT_RECORDS) this.state.funding.splice(0, this.state.funding.length - MAX_KEPT_RECORDS);
    this.opts.onMutate();
  }

  /** Cross margin: when a wallet's margin balance falls below maintenance, all its positions are closed. */
  private checkLiquidation(t: number): void {
    const assets = new Set(Object.keys(this.state.positions).map((s) => quoteOf(s)!));
    for (const asset of assets) {
      const a = this.accountOf(asset);
      if (a.wallet + a.unrealized >= a.maintenance) continue;
      for (const [symbol, p] of Object.entries(this.state.positions)) {
        if (quoteOf(symbol) !== asset) continue;
        const side: OrderSide = p.amt > 0 ? 'SELL' : 'BUY';
        this.executeNow(symbol, side, Math.abs(p.amt), true, t, this.mark(symbol) ?? p.entryPrice, 'LIQUIDATION', `autoclose-${t}-${symbol}`);
      }
      // The insurance fund absorbs a negative balance.
      if ((this.state.wallets[asset] ?? 0) < 0) this.state.wallets[asset] = 0;
    }
  }

  // ---- bookkeeping -------------------------------------------------------------------------------------

  private indexOrder(o: OrderRecord): void {
    this.ordersById.set(o.orderId, o);
    this.ordersByClient.add(clientKey(o.symbol, o.clientOrderId), o);
    if (isOpenOrder(o)) {
      const set = this.openOrders.get(o.symbol) ?? new Set<OrderRecord>();
      set.add(o);
      this.openOrders.set(o.symbol, set);
    }
  }

  private indexFill(f: FillRecord): void {
    const list = this.fillsByOrder.get(f.orderId);
    if (list) list.push(f);
    else this.fillsByOrder.set(f.orderId, [f]);
  }

  private indexAlgo(a: AlgoRecord): void {
    this.algosById.set(a.algoId, a);
    this.algosByClient.add(a.clientAlgoId, a);
    if (a.status === 'NEW') {
      const set = this.openAlgos.get(a.symbol) ?? new Set<AlgoRecord>();
      set.add(a);
      this.openAlgos.set(a.symbol, set);
    }
  }

  /** Forgets the oldest orders, fills and finished algo orders beyond the retention limit. */
  private prune(): void {
    const s = this.state;
    if (s.orders.length > MAX_KEPT_RECORDS * 1.1) {
      const cut = s.orders.length - MAX_KEPT_RECORDS;
      const kept: OrderRecord[] = [];
      s.orders.forEach((o, i) => {
        if (i >= cut || isOpenOrder(o)) return kept.push(o);
        this.ordersById.delete(o.orderId);
        this.ordersByClient.remove(clientKey(o.symbol, o.clientOrderId), o);
        return undefined;
      });
      s.orders = kept;
    }
    if (s.fills.length > MAX_KEPT_RECORDS * 1.1) {
      for (const f of s.fills.splice(0, s.fills.length - MAX_KEPT_RECORDS)) this.fillsByOrder.delete(f.orderId);
    }
    if (s.algoOrders.length > MAX_KEPT_RECORDS * 1.1) {
      const keep = s.algoOrders.filter((a, i) => a.status === 'NEW' || i >= s.algoOrders.length - MAX_KEPT_RECORDS);
      const kept = new Set(keep);
      for (const a of s.algoOrders) {
        if (kept.has(a)) continue;
        this.algosById.delete(a.algoId);
        this.algosByClient.remove(a.clientAlgoId, a);
      }
      s.algoOrders = keep;
    }
  }
}

function clientKey(symbol: string, clientOrderId: string): string {
  return `${symbol}|${clientOrderId}`;
}

/**
 * Whether a conditional order fires at `price`. A SELL stop protects a long (fires on a fall), a BUY stop a
 * short (fires on a rise); take-profits the other way round.
 */
export function triggered(type: AlgoType, side: OrderSide, trigger: number, price: number): boolean {
  const firesOnFall = (type === 'STOP_MARKET') === (side === 'SELL');
  return firesOnFall ? price <= trigger : price >= trigger;
}
