import { FUNDING_INTERVAL_MS, TAKER_FEE_RATE, slippedPrice } from '../../core/costs.js';
import type { OrderSide } from '../../core/types.js';
import type { SymbolRules } from '../types.js';
import { badRequest, noSuchOrder, unknownOrder } from './api-error.js';
import type { MarketFeed } from './feed.js';
import type { AlgoRecord, AlgoType, FillRecord, OrderKind, OrderRecord, PositionRecord, SimState } from './state.js';
import { decimalsOfStep, deriveRules, quoteOf } from './symbols.js';

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

/** What a client sends for a conditional order; the rest of an AlgoRecord is the exchange's. */
export type NewAlgoOrder = Pick<
  AlgoRecord,
  'symbol' | 'side' | 'orderType' | 'triggerPrice' | 'quantity' | 'closePosition' | 'reduceOnly' | 'workingType' | 'clientAlgoId'
>;

/**
 * The matching engine and the account: MARKET orders fill at the feed price plus slippage, one-way positions
 * in a cross-margin wallet per quote asset, conditional (algo) orders triggered on the mark price at every
 * intrabar point, funding at the 8-hour marks and a liquidation check.
 */
export class Engine {
  private readonly rulesCache = new Map<string, SymbolRules>();
  private readonly ordersById = new Map<number, OrderRecord>();
  private readonly ordersByClient = new Map<string, OrderRecord>();
  private readonly fillsByOrder = new Map<number, FillRecord[]>();
  private readonly algosByClient = new Map<string, AlgoRecord>();
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
      const d = this.feed.describe(symbol);
      if (!d || !quoteOf(symbol)) return undefined;
      r = deriveRules(symbol, d.referencePrice, d.priceDecimals);
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
    this.checkTriggers(symbol, t, price);
    this.checkLiquidation(t);
    this.opts.onMutate();
  }

  // ---- orders ------------------------------------------------------------------------------------------

  placeMarketOrder(o: NewOrder): OrderRecord {
    const rules = this.requireRules(o.symbol);
    const price = this.mark(o.symbol);
    if (price === undefined) throw badRequest(-1121, 'Invalid symbol.');
    const key = `${o.symbol}|${o.clientOrderId}`;
    // Stricter than Binance (unique among open orders only): a MARKET order is never open, so uniqueness over
    // every known order is what makes a resend of the same client id detectable.
    if (this.ordersByClient.has(key)) throw badRequest(-4116, 'ClientOrderId is duplicated.');
    if (!o.reduceOnly && o.quantity * price < rules.minNotional) {
      throw badRequest(-4164, `Order's notional must be no smaller than ${rules.minNotional} (unless you choose reduce only).`);
    }
    return this.execute(o.symbol, o.side, o.quantity, o.reduceOnly, false, this.state.marketTime, price, 'MARKET', o.clientOrderId);
  }

  getOrder(symbol: string, orderId?: number, clientOrderId?: string): OrderRecord {
    const o = orderId !== undefined ? this.ordersById.get(orderId) : this.ordersByClient.get(`${symbol}|${clientOrderId}`);
    if (!o || o.symbol !== symbol) throw noSuchOrder();
    return o;
  }

  /** MARKET orders fill at once, so there is never an open order to cancel. */
  cancelOrder(symbol: string, orderId?: number, clientOrderId?: string): never {
    const o = orderId !== undefined ? this.ordersById.get(orderId) : this.ordersByClient.get(`${symbol}|${clientOrderId}`);
    if (!o || o.symbol !== symbol) throw unknownOrder();
    throw unknownOrder();
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
    const key = `${a.symbol}|${a.clientAlgoId}`;
    if (this.algosByClient.has(key)) throw badRequest(-4116, 'ClientOrderId is duplicated.');
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
    const a = algoId !== undefined ? this.algosById.get(algoId) : this.findAlgoByClient(clientAlgoId!, symbol);
    if (!a) throw noSuchOrder();
    return a;
  }

  cancelAlgoOrder(algoId?: number, clientAlgoId?: string, symbol?: string): AlgoRecord {
    const a = algoId !== undefined ? this.algosById.get(algoId) : this.findAlgoByClient(clientAlgoId!, symbol);
    if (!a || a.status !== 'NEW') throw unknownOrder();
    this.closeAlgo(a, 'CANCELED', this.state.marketTime);
    this.opts.onMutate();
    return a;
  }

  openAlgoOrders(symbol?: string): AlgoRecord[] {
    const sets = symbol ? [this.openAlgos.get(symbol) ?? new Set<AlgoRecord>()] : [...this.openAlgos.values()];
    return sets.flatMap((s) => [...s]);
  }

  private findAlgoByClient(clientAlgoId: string, symbol?: string): AlgoRecord | undefined {
    if (symbol) return this.algosByClient.get(`${symbol}|${clientAlgoId}`);
    for (const a of this.algosById.values()) if (a.clientAlgoId === clientAlgoId) return a;
    return undefined;
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
        const order = this.execute(symbol, a.side, qty, true, a.closePosition, t, price, 'MARKET', `algo-${a.algoId}`);
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

  /** Fills a market order at `price` plus slippage; checks reduce-only and margin. */
  private execute(symbol: string, side: OrderSide, quantity: number, reduceOnly: boolean, closePosition: boolean, t: number, price: number, type: OrderKind, clientOrderId: string): OrderRecord {
    const rules = this.requireRules(symbol);
    const asset = rules.quoteAsset;
    const pos: PositionRecord = this.state.positions[symbol] ?? { amt: 0, entryPrice: 0, updateTime: t };
    const dir = side === 'BUY' ? 1 : -1;
    let qty = quantity;
    if (reduceOnly) {
      if (pos.amt === 0 || Math.sign(pos.amt) === dir) throw badRequest(-2022, 'ReduceOnly Order is rejected.');
      qty = Math.min(qty, Math.abs(pos.amt));
    }
    const priceDecimals = decimalsOfStep(rules.tickSize);
    const fillPrice = Number(slippedPrice(price, side, this.opts.slippageBps).toFixed(priceDecimals));
    const closing = Math.sign(pos.amt) === -dir ? Math.min(qty, Math.abs(pos.amt)) : 0;
    const opening = qty - closing;
    const fee = round8(fillPrice * qty * TAKER_FEE_RATE);
    if (opening > 0) {
      const required = (opening * fillPrice) / this.leverageOf(symbol) + fee;
      if (this.available(asset) < required) throw badRequest(-2019, 'Margin is insufficient.');
    }
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

    const order: OrderRecord = {
      orderId: this.state.nextOrderId++,
      symbol,
      clientOrderId,
      side,
      type,
      origQty: qty,
      executedQty: qty,
      avgPrice: fillPrice,
      cumQuote: round8(fillPrice * qty),
      status: 'FILLED',
      reduceOnly,
      closePosition,
      time: t,
      updateTime: t,
    };
    const fill: FillRecord = {
      id: this.state.nextTradeId++,
      orderId: order.orderId,
      symbol,
      side,
      price: fillPrice,
      qty,
      quoteQty: order.cumQuote,
      commission: fee,
      commissionAsset: asset,
      realizedPnl: realized,
      time: t,
    };
    this.state.orders.push(order);
    this.state.fills.push(fill);
    this.indexOrder(order);
    this.indexFill(fill);
    this.prune();
    this.opts.onMutate();
    return order;
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
        this.execute(symbol, side, Math.abs(p.amt), true, true, t, this.mark(symbol) ?? p.entryPrice, 'LIQUIDATION', `autoclose-${t}-${symbol}`);
      }
      // The insurance fund absorbs a negative balance.
      if ((this.state.wallets[asset] ?? 0) < 0) this.state.wallets[asset] = 0;
    }
  }

  // ---- bookkeeping -------------------------------------------------------------------------------------

  ordersOf(orderId: number): FillRecord[] {
    return this.fillsByOrder.get(orderId) ?? [];
  }

  private indexOrder(o: OrderRecord): void {
    this.ordersById.set(o.orderId, o);
    this.ordersByClient.set(`${o.symbol}|${o.clientOrderId}`, o);
  }

  private indexFill(f: FillRecord): void {
    const list = this.fillsByOrder.get(f.orderId);
    if (list) list.push(f);
    else this.fillsByOrder.set(f.orderId, [f]);
  }

  private indexAlgo(a: AlgoRecord): void {
    this.algosById.set(a.algoId, a);
    this.algosByClient.set(`${a.symbol}|${a.clientAlgoId}`, a);
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
      for (const o of s.orders.splice(0, s.orders.length - MAX_KEPT_RECORDS)) {
        this.ordersById.delete(o.orderId);
        this.ordersByClient.delete(`${o.symbol}|${o.clientOrderId}`);
      }
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
        this.algosByClient.delete(`${a.symbol}|${a.clientAlgoId}`);
      }
      s.algoOrders = keep;
    }
  }
}

/**
 * Whether a conditional order fires at `price`. A SELL stop protects a long (fires on a fall), a BUY stop a
 * short (fires on a rise); take-profits the other way round.
 */
export function triggered(type: AlgoType, side: OrderSide, trigger: number, price: number): boolean {
  const firesOnFall = (type === 'STOP_MARKET') === (side === 'SELL');
  return firesOnFall ? price <= trigger : price >= trigger;
}
