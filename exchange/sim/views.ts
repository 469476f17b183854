import type { Engine } from './matching-engine.js';
import type { AlgoRecord, FillRecord, OrderRecord } from './state.js';
import { decimalsOfStep, quoteOf } from './symbols.js';

/** Binance's JSON shapes for the local exchange's records. Numbers go out as strings, like Binance. */

const money = (x: number): string => x.toFixed(8);

function formats(engine: Engine, symbol: string): { price: (x: number) => string; qty: (x: number) => string } {
  const r = engine.rules(symbol);
  const pd = r ? decimalsOfStep(r.tickSize) : 8;
  const qd = r ? decimalsOfStep(r.stepSize) : 8;
  return { price: (x) => x.toFixed(pd), qty: (x) => x.toFixed(qd) };
}

/** With `ack`, the answer of newOrderRespType=ACK: accepted, not yet reported as filled. */
export function orderView(engine: Engine, o: OrderRecord, ack = false): Record<string, unknown> {
  const f = formats(engine, o.symbol);
  return {
    orderId: o.orderId,
    symbol: o.symbol,
    status: ack ? 'NEW' : o.status,
    clientOrderId: o.clientOrderId,
    price: '0',
    avgPrice: ack ? '0.00' : f.price(o.avgPrice),
    origQty: f.qty(o.origQty),
    executedQty: ack ? '0' : f.qty(o.executedQty),
    cumQty: ack ? '0' : f.qty(o.executedQty),
    cumQuote: ack ? '0' : money(o.cumQuote),
    timeInForce: 'GTC',
    type: o.type,
    reduceOnly: o.reduceOnly,
    closePosition: o.closePosition,
    side: o.side,
    positionSide: 'BOTH',
    stopPrice: '0',
    workingType: 'CONTRACT_PRICE',
    priceProtect: false,
    origType: o.type,
    priceMatch: 'NONE',
    selfTradePreventionMode: 'EXPIRE_MAKER',
    goodTillDate: 0,
    time: o.time,
    updateTime: o.updateTime,
  };
}

export function fillView(engine: Engine, t: FillRecord): Record<string, unknown> {
  const f = formats(engine, t.symbol);
  return {
    buyer: t.side === 'BUY',
    commission: money(t.commission),
    commissionAsset: t.commissionAsset,
    id: t.id,
    maker: false,
    orderId: t.orderId,
    price: f.price(t.price),
    qty: f.qty(t.qty),
    quoteQty: money(t.quoteQty),
    realizedPnl: money(t.realizedPnl),
    side: t.side,
    positionSide: 'BOTH',
    symbol: t.symbol,
    time: t.time,
  };
}

export function algoView(engine: Engine, a: AlgoRecord): Record<string, unknown> {
  const f = formats(engine, a.symbol);
  return {
    algoId: a.algoId,
    clientAlgoId: a.clientAlgoId,
    algoType: 'CONDITIONAL',
    orderType: a.orderType,
    symbol: a.symbol,
    side: a.side,
    positionSide: 'BOTH',
    timeInForce: 'GTC',
    quantity: f.qty(a.quantity),
    algoStatus: a.status,
    actualOrderId: a.actualOrderId === null ? '' : String(a.actualOrderId),
    actualPrice: a.actualOrderId === null ? '0' : f.price(a.actualPrice),
    triggerPrice: f.price(a.triggerPrice),
    price: '0',
    icebergQuantity: null,
    selfTradePreventionMode: 'EXPIRE_MAKER',
    workingType: a.workingType,
    priceMatch: 'NONE',
    closePosition: a.closePosition,
    priceProtect: false,
    reduceOnly: a.reduceOnly || a.closePosition,
    createTime: a.createTime,
    updateTime: a.updateTime,
    triggerTime: a.triggerTime,
    goodTillDate: 0,
  };
}

/** With `hide`, the symbol is shown flat (the emptyPositionRead fault). */
export function positionView(engine: Engine, symbol: string, hide = false): Record<string, unknown> {
  const f = formats(engine, symbol);
  const p = hide ? undefined : engine.state.positions[symbol];
  const mark = engine.mark(symbol) ?? 0;
  const amt = p?.amt ?? 0;
  const leverage = engine.leverageOf(symbol);
  const notional = amt * mark;
  return {
    symbol,
    positionAmt: f.qty(amt),
    entryPrice: p ? p.entryPrice.toFixed(8) : '0.0',
    breakEvenPrice: p ? p.entryPrice.toFixed(8) : '0.0',
    markPrice: f.price(mark),
    unRealizedProfit: money(p ? engine.unrealized(symbol) : 0),
    liquidationPrice: '0',
    leverage: String(leverage),
    maxNotionalValue: '100000000',
    marginType: 'cross',
    isolatedMargin: '0.00000000',
    isAutoAddMargin: 'false',
    positionSide: 'BOTH',
    notional: money(notional),
    initialMargin: money(Math.abs(notional) / leverage),
    isolatedWallet: '0',
    marginAsset: quoteOf(symbol),
    updateTime: p?.updateTime ?? 0,
  };
}

export function balanceView(engine: Engine, asset: string): Record<string, unknown> {
  const a = engine.accountOf(asset);
  return {
    accountAlias: 'local',
    asset,
    balance: money(a.wallet),
    crossWalletBalance: money(a.wallet),
    crossUnPnl: money(a.unrealized),
    availableBalance: money(a.available),
    maxWithdrawAmount: money(Math.min(a.available, a.wallet)),
    marginAvailable: true,
    updateTime: engine.state.marketTime,
  };
}

export function accountView(engine: Engine, hidePositions = false): Record<string, unknown> {
  const assets = Object.keys(engine.state.wallets).map((asset) => {
    const a = engine.accountOf(asset);
    return {
      asset,
      walletBalance: money(a.wallet),
      unrealizedProfit: money(a.unrealized),
      marginBalance: money(a.wallet + a.unrealized),
      maintMargin: money(a.maintenance),
      initialMargin: money(a.initialMargin),
      positionInitialMargin: money(a.initialMargin),
      openOrderInitialMargin: '0.00000000',
      crossWalletBalance: money(a.wallet),
      crossUnPnl: money(a.unrealized),
      availableBalance: money(a.available),
      maxWithdrawAmount: money(Math.min(a.available, a.wallet)),
      marginAvailable: true,
      updateTime: engine.state.marketTime,
    };
  });
  return {
    feeTier: 0,
    canTrade: true,
    canDeposit: true,
    canWithdraw: true,
    updateTime: 0,
    multiAssetsMargin: false,
    assets,
    positions: hidePositions ? [] : Object.keys(engine.state.positions).map((s) => positionView(engine, s)),
  };
}
