import type { ExitReason, PositionSide, ScoredSignal } from '../core/types.js';
import type { RiskVerdict } from '../core/risk.js';

/**
 * The activity surface the workflows call. Types only, so workflow code can import it without
 * pulling any I/O into the workflow bundle.
 */

export interface DecisionRecord {
  workflowId: string;
  symbol: string;
  seq: number;
  signal: ScoredSignal;
  /** ENTER, WOULD_TRADE, RISK_REJECTED or a SkipReason. */
  decision: string;
  reason: string;
}

export interface EntryRequest {
  positionId: string;
  workflowId: string;
  symbol: string;
  side: PositionSide;
  notional: number;
  leverage: number;
  clientOrderId: string;
  stopLossPct: number;
  takeProfitPct: number;
}

export type EntryResult =
  | { status: 'FILLED'; quantity: number; entryPrice: number; entryFee: number; openedAt: number; stopPrice: number; takeProfitPrice: number }
  | { status: 'REJECTED'; reason: string };

export interface StopRequest {
  positionId: string;
  symbol: string;
  side: PositionSide;
  triggerPrice: number;
  clientAlgoId: string;
}

export interface PositionReading {
  markPrice: number;
  /** Absolute size still open on the exchange (one-way mode). */
  openQuantity: number;
}

export interface ExitRequest {
  positionId: string;
  symbol: string;
  side: PositionSide;
  quantity: number;
  entryFee: number;
  clientOrderId: string;
  /** Ids of earlier exit attempts: if one of them executed after all, it is the exit. */
  earlierClientOrderIds: string[];
  stopClientAlgoId: string;
  reason: ExitReason;
}

export type ExitResult =
  | { status: 'CLOSED'; exitPrice: number; exitFee: number; grossPnl: number; netPnl: number; reason: ExitReason }
  /** The position was already flat (the protective stop fired): settle it from the stop's fills. */
  | { status: 'ALREADY_FLAT' };

export interface StopSettlement {
  positionId: string;
  symbol: string;
  side: PositionSide;
  entryFee: number;
  stopClientAlgoId: string;
}

export interface TradingActivities {
  /** `dueAt`: when the tick was due (epoch ms); its lateness is measured when the activity starts. */
  evaluateSignal(req: { workflowId: string; symbol: string; dueAt?: number }): Promise<ScoredSignal>;
  journalDecision(rec: DecisionRecord): Promise<void>;
  checkEntryRisk(req: { symbol: string; notional: number; leverage: number }): Promise<RiskVerdict>;
  openPosition(req: EntryRequest): Promise<EntryResult>;
  placeProtectiveStop(req: StopRequest): Promise<void>;
  readPosition(req: { symbol: string }): Promise<PositionReading>;
  closePosition(req: ExitRequest): Promise<ExitResult>;
  settleProtectiveStop(req: StopSettlement): Promise<Extract<ExitResult, { status: 'CLOSED' }>>;
  journalEntryFailure(req: { positionId: string; workflowId: string; symbol: string; side: PositionSide; reason: string }): Promise<void>;
}
