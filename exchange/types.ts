import type { ExchangeOrderStatus, FillFact, OrderFact } from '../core/position-orders.js';
import type { Candle, OrderSide } from '../core/types.js';

/**
 * The exchange as the rest of the project sees it. One implementation (`BinanceFuturesAdapter`)
 * over the `binance` package's USDMClient serves live, testnet and the local exchange alike.
 * Numbers go in as numbers; the adapter rounds to the symbol's filters and sends strings.
 */

export interface SymbolRules {
  symbol: string;
  quoteAsset: string;
  tickSize: number;
  stepSize: number;
  /** MARKET_LOT_SIZE step (Binance may differ from LOT_SIZE for market orders). */
  marketStepSize: number;
  minQty: number;
  marketMaxQty: number;
  /** MIN_NOTIONAL filter `notional`. */
  minNotional: number;
}

export type OrderStatus = ExchangeOrderStatus;

/** An order: what the position lifecycle takes as a fact (core/position-orders.ts), with its symbol. */
export interface OrderState extends OrderFact {
  symbol: string;
  reduceOnly: boolean;
}

/** One trade of the account: the lifecycle's fill fact, with its symbol. */
export interface Fill extends FillFact {
  symbol: string;
}

export type AlgoStatus = 'NEW' | 'TRIGGERING' | 'TRIGGERED' | 'FINISHED' | 'CANCELED' | 'EXPIRED' | 'REJECTED';

export interface AlgoOrderState {
  symbol: string;
  algoId: number;
  clientAlgoId: string;
  orderType: 'STOP_MARKET' | 'TAKE_PROFIT_MARKET';
  side: OrderSide;
  triggerPrice: number;
  status: AlgoStatus;
  /** Order id of the MARKET order the trigger created, once triggered. */
  actualOrderId: number | null;
  updateTime: number;
}

export interface PositionInfo {
  symbol: string;
  /** Signed: positive long, negative short, 0 flat (one-way mode). */
  positionAmt: number;
  entryPrice: number;
  markPrice: number;
  unrealizedProfit: number;
  leverage: number;
  notional: number;
}

export interface Balance {
  asset: string;
  walletBalance: number;
  availableBalance: number;
  unrealizedProfit: number;
  marginBalance: number;
}

export interface MarketOrderRequest {
  symbol: string;
  side: OrderSide;
  quantity: number;
  clientOrderId: string;
  reduceOnly?: boolean;
  /** Price for the min-notional check before sending; the adapter fetches the mark price when omitted. */
  referencePrice?: number;
  /** The request must not leave after this (epoch ms, local clock); see SendWindow. */
  sendBefore?: number;
}

export interface StopOrderRequest {
  symbol: string;
  /** Side of the closing order: SELL protects a LONG, BUY protects a SHORT. */
  side: OrderSide;
  type: 'STOP_MARKET' | 'TAKE_PROFIT_MARKET';
  triggerPrice: number;
  clientAlgoId: string;
  /** The request must not leave after this (epoch ms, local clock); see SendWindow. */
  sendBefore?: number;
}

export interface FuturesExchange {
  readonly venue: string;
  exchangeInfo(): Promise<Map<string, SymbolRules>>;
  rules(symbol: string): Promise<SymbolRules>;
  /** Most recent klines, oldest first; the last one is the candle still forming. */
  klines(symbol: string, interval: string, limit: number): Promise<Candle[]>;
  markPrice(symbol: string): Promise<number>;
  /** Price of the latest trade (ticker price): a second opinion on the mark before an entry is sized. */
  lastPrice(symbol: string): Promise<number>;
  /**
   * The venue's clock (epoch ms) from the symbol's mark price record: the exchange's time live, the
   * replay's market time on the local exchange. Daily limits count in this clock.
   */
  venueTime(symbol: string): Promise<number>;
  markPrices(): Promise<Map<string, number>>;
  balances(): Promise<Balance[]>;
  positions(symbol?: string): Promise<PositionInfo[]>;
  /** One-way position mode, cross margin and the leverage for a symbol. Idempotent. */
  prepareSymbol(symbol: string, leverage: number): Promise<void>;
  /** Rounds quantity down to the step; throws a rejected ExchangeError below min notional. */
  placeMarketOrder(req: MarketOrderRequest): Promise<OrderState>;
  /** null when the exchange does not know the id (-2013). */
  getOrder(symbol: string, clientOrderId: string): Promise<OrderState | null>;
  cancelOrder(symbol: string, clientOrderId: string): Promise<void>;
  tradesForOrder(symbol: string, orderId: number): Promise<Fill[]>;
  /** The account's trades on a symbol from `startTime` (exchange time, ms), oldest first, at most 1000. */
  tradesSince(symbol: string, startTime: number): Promise<Fill[]>;
  /** Conditional order through the Algo Order API: closePosition=true, workingType=MARK_PRICE. */
  placeStopOrder(req: StopOrderRequest): Promise<AlgoOrderState>;
  getAlgoOrder(symbol: string, clientAlgoId: string): Promise<AlgoOrderState | null>;
  /** Open (not yet triggered) conditional orders, of one symbol or all. */
  openAlgoOrders(symbol?: string): Promise<AlgoOrderState[]>;
  cancelAlgoOrder(symbol: string, clientAlgoId: string): Promise<void>;
}
