import type { Fill } from '../exchange/types.js';
import type { PositionSide } from '../core/types.js';

/** What the activities need from the journal (implemented by journal/Journal over Postgres). */
export interface JournalPort {
  recordSignal(row: {
    workflowId: string;
    symbol: string;
    seq: number;
    candleTime: number;
    signal: string;
    confidence: number;
    probHold: number;
    probBuy: number;
    probSell: number;
    model: string;
    price: number;
    decision: string;
    reason: string;
    at: Date;
  }): Promise<void>;
  upsertOrder(row: {
    clientOrderId: string;
    symbol: string;
    positionId: string;
    purpose: 'ENTRY' | 'EXIT' | 'PROTECTIVE_STOP';
    side: string;
    type: string;
    quantity: number;
    status: string;
    exchangeOrderId: number | null;
    avgPrice: number;
    executedQty: number;
    reduceOnly: boolean;
    updatedAt: Date;
  }): Promise<void>;
  recordFills(fills: (Fill & { clientOrderId: string; positionId: string })[]): Promise<void>;
  openPosition(row: {
    positionId: string;
    workflowId: string;
    symbol: string;
    side: PositionSide;
    quantity: number;
    entryPrice: number;
    entryFee: number;
    openedAt: Date;
    stopPrice: number;
    takeProfitPrice: number;
  }): Promise<void>;
  closePosition(row: {
    positionId: string;
    exitPrice: number;
    exitReason: string;
    exitFee: number;
    grossPnl: number;
    netPnl: number;
    closedAt: Date;
  }): Promise<void>;
  getGlobalKill(): Promise<{ on: boolean; reason: string | null }>;
  realizedPnlSince(since: Date): Promise<number>;
  openPositions(): Promise<{ symbol: string; notional: number }[]>;
}
