import type { OrderSide } from '../../core/types.js';
import type { FillFact } from '../../core/position-orders.js';

/** Everything the local exchange must not lose across a restart. Plain JSON. */
export interface SimState {
  version: 1;
  /** Market time up to which prices have been walked (the replay clock position). */
  marketTime: number;
  lastFundingTime: number;
  nextOrderId: number;
  nextTradeId: number;
  nextAlgoId: number;
  /** Cross wallet balance per margin asset (USDT and USDC wallets are separate). */
  wallets: Record<string, number>;
  /** Open positions only (one-way mode): signed amount and average entry price. */
  positions: Record<string, PositionRecord>;
  leverage: Record<string, number>;
  orders: OrderRecord[];
  algoOrders: AlgoRecord[];
  fills: FillRecord[];
  funding: FundingRecord[];
  /** Last prices of the manual feed. */
  manualPrices: Record<string, number>;
}

export interface PositionRecord {
  amt: number;
  entryPrice: number;
  updateTime: number;
}

export type OrderKind = 'MARKET' | 'LIQUIDATION';
/** NEW and PARTIALLY_FILLED are open (a remainder waits for the next price step); the rest are final. */
export type OrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'EXPIRED';

export interface OrderRecord {
  orderId: number;
  symbol: string;
  clientOrderId: string;
  side: OrderSide;
  type: OrderKind;
  origQty: number;
  executedQty: number;
  /** Average fill price; 0 while nothing has filled. */
  avgPrice: number;
  cumQuote: number;
  status: OrderStatus;
  reduceOnly: boolean;
  closePosition: boolean;
  time: number;
  updateTime: number;
}

export type AlgoType = 'STOP_MARKET' | 'TAKE_PROFIT_MARKET';
export type AlgoStatus = 'NEW' | 'TRIGGERED' | 'FINISHED' | 'CANCELED' | 'EXPIRED' | 'REJECTED';

export interface AlgoRecord {
  algoId: number;
  clientAlgoId: string;
  symbol: string;
  side: OrderSide;
  orderType: AlgoType;
  triggerPrice: number;
  /** 0 with closePosition. */
  quantity: number;
  closePosition: boolean;
  reduceOnly: boolean;
  workingType: string;
  status: AlgoStatus;
  actualOrderId: number | null;
  actualPrice: number;
  createTime: number;
  updateTime: number;
  triggerTime: number;
}

/** A trade of the paper exchange: the fill the lifecycle reads, under Binance's own name for its id. */
export type FillRecord = Omit<FillFact, 'tradeId'> & { id: number; symbol: string };

export interface FundingRecord {
  symbol: string;
  asset: string;
  /** Signed: negative when paid. */
  amount: number;
  rate: number;
  time: number;
}

export function emptyState(marketTime: number, initialBalances: Record<string, number>): SimState {
  return {
    version: 1,
    marketTime,
    lastFundingTime: marketTime,
    nextOrderId: 1,
    nextTradeId: 1,
    nextAlgoId: 1,
    wallets: { ...initialBalances },
    positions: {},
    leverage: {},
    orders: [],
    algoOrders: [],
    fills: [],
    funding: [],
    manualPrices: {},
  };
}
