import type { JournalEntry } from '../core/position-lifecycle.js';
import type { OrderSide, PositionSide, Signal } from '../core/types.js';
import type { Fill } from '../exchange/types.js';

/**
 * Times may arrive as Date, epoch milliseconds or ISO text: activity arguments travel as JSON,
 * so a Date sent from a workflow reaches the activity as a string.
 */
export type TimeInput = Date | number | string;

export interface SignalRecord {
  workflowId: string;
  symbol: string;
  /** Tick sequence of the symbol workflow run lineage; (symbol, runId, seq) books a tick once. */
  seq: number;
  /** The loop instance that decided (its orders carry this id); '' for rows from before it was kept. */
  instanceId?: string;
  /** Temporal run that decided: a loop started again or reset counts its ticks afresh under a new run. */
  runId?: string;
  candleTime: TimeInput;
  signal: Signal;
  confidence: number;
  probHold: number | null;
  probBuy: number | null;
  probSell: number | null;
  model: string;
  price: number;
  /** 'ENTER' | 'SKIP' | 'WOULD_TRADE' | ... */
  decision: string;
  reason: string | null;
  at: TimeInput;
  /** History length when the deciding workflow task started (see 005_signal_task_event.sql); absent before it was kept. */
  taskEvent?: number | null;
}

export type SignalRow = Omit<SignalRecord, 'candleTime' | 'at'> & { candleTime: Date; at: Date };

export interface SignalWriteResult {
  inserted: number;
  /** Already booked with the same decision: retries. */
  duplicates: number;
  /**
   * Already booked with a different decision from an earlier moment: replaced by this one. A loop's local
   * activities run inside its workflow task, so a worker killed before that task completed leaves a row of a
   * decision that never became history; the task runs again (later, possibly with another signal) under the
   * same key, and that run is the one the workflow keeps.
   */
  superseded: number;
  /** Already booked with a different decision at the same or a later moment: kept as SIGNAL_KEY_COLLISION risk events. */
  collisions: number;
}

export type OrderPurpose = 'ENTRY' | 'EXIT' | 'PROTECTIVE_STOP';

/** An order as the journal books it (ours, with its purpose and position); the paper exchange's own order is exchange/sim/state.ts's OrderRecord. */
export interface BookedOrder {
  clientOrderId: string;
  symbol: string;
  positionId: string | null;
  purpose: OrderPurpose;
  side: OrderSide;
  /** MARKET | STOP_MARKET | TAKE_PROFIT_MARKET */
  type: string;
  quantity: number | null;
  status: string;
  exchangeOrderId: string | number | null;
  avgPrice: number | null;
  executedQty: number | null;
  reduceOnly: boolean;
  updatedAt: TimeInput;
}

export type OrderRow = Omit<BookedOrder, 'updatedAt' | 'exchangeOrderId'> & {
  exchangeOrderId: string | null;
  createdAt: Date;
  updatedAt: Date;
};

/** A fill as the journal books it: the exchange's trade, tied to our order and position. */
export type BookedFill = Fill & { clientOrderId: string; positionId: string | null };
export type FillRow = Omit<BookedFill, 'time'> & { time: Date };

/** A position's entry, as the position lifecycle writes it (its time may arrive as text: TimeInput). */
export type PositionOpen = Omit<JournalEntry, 'openedAt'> & { openedAt: TimeInput };

export interface PositionClose {
  positionId: string;
  exitPrice: number;
  exitReason: string;
  exitFee: number;
  grossPnl: number;
  netPnl: number;
  closedAt: TimeInput;
}

export interface PositionRow {
  positionId: string;
  workflowId: string;
  symbol: string;
  side: PositionSide;
  status: 'OPEN' | 'CLOSED';
  quantity: number;
  entryPrice: number;
  entryFee: number;
  openedAt: Date;
  stopPrice: number | null;
  takeProfitPrice: number | null;
  exitPrice: number | null;
  exitReason: string | null;
  exitFee: number | null;
  grossPnl: number | null;
  netPnl: number | null;
  closedAt: Date | null;
  /** The model version of the entry signal; null for adopted positions and rows from before it was kept. */
  modelVersion: string | null;
}

export interface OpenPositionSummary {
  positionId: string;
  symbol: string;
  side: PositionSide;
  quantity: number;
  entryPrice: number;
  /** quantity × entry price, in the quote asset. */
  notional: number;
  openedAt: Date;
}

export interface GlobalKill {
  on: boolean;
  reason: string | null;
  at: Date | null;
}

export interface RiskEvent {
  kind: string;
  symbol?: string | null;
  detail?: Record<string, unknown>;
}

export interface PnlSummary {
  /** Sum of net P&L (after fees) of closed positions. */
  realizedNet: number;
  realizedGross: number;
  /** Entry plus exit fees of closed positions. */
  fees: number;
  closedPositions: number;
  wins: number;
  losses: number;
  openPositions: number;
  /** Net P&L of positions closed since 00:00 UTC today. */
  todayNet: number;
  bySymbol: { symbol: string; closedPositions: number; realizedNet: number }[];
}
