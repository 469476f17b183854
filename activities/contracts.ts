import type { ExitReason, PositionSide, ScoredSignal } from '../core/types.js';
import type { ExitRules } from '../core/exits.js';
import type { RiskVerdict } from '../core/risk.js';
import type { LoopState } from '../core/loop.js';
import type { TradingParams } from '../core/params.js';
import type { ArmedExit, CloseEvidence, JournalWrite, Notice, OrderAnswer, Reading, StopAnswer } from '../core/position-lifecycle.js';
import type { FillFact, OrderFact } from '../core/position-orders.js';
import type { Observation, OrphanPolicy, ReconcileAction } from '../core/reconcile.js';
import type { ActionOutcome, ReconcileResult } from '../workflows/book-contracts.js';

/**
 * The activity surface the workflows call. Types only, so workflow code can import it without
 * pulling any I/O into the workflow bundle.
 */

export interface DecisionRecord {
  workflowId: string;
  symbol: string;
  seq: number;
  signal: ScoredSignal;
  /** ENTER, WOULD_TRADE, RISK_REJECTED, RISK_UNAVAILABLE, OWNERSHIP_UNKNOWN or a SkipReason. */
  decision: string;
  reason: string;
  /** The loop instance and run that decided; with `seq` the journal's key. */
  instanceId?: string;
  runId?: string;
  /** Workflow time of the decision (a record written late keeps its own time). */
  at?: number;
  /** History length when the deciding workflow task started: a task run again after a lost one starts later. */
  taskEvent?: number;
}

export interface EntryReservation {
  positionId: string;
  symbol: string;
  notional: number;
  leverage: number;
  /** Unique per tick of a run: a retried activity is answered once by the risk book. */
  attemptKey: string;
  /** Check only (execution disabled): nothing is reserved. */
  dryRun?: boolean;
  /** Count exposure taken over from the exchange, whatever the limits say. */
  adopt?: boolean;
}

export interface LivePosition {
  /** A running position workflow on the symbol. */
  owner: { positionId: string; side: PositionSide | null } | null;
  /** Exchange exposure on the symbol that no running workflow owns (confirmed by a second look). */
  exposure: { positionAmt: number; entryPrice: number; markPrice: number } | null;
  /** QT_ORPHAN_POLICY: under `flatten` the loop leaves such exposure to reconciliation instead of adopting it. */
  orphanPolicy?: OrphanPolicy;
}

export interface FlattenRequest {
  symbol: string;
  /** Deterministic: a retry finds the order instead of sending a second one. */
  clientOrderId: string;
  /** The journal position the exposure belongs to, when known (settled from the flatten's fills). */
  positionId: string | null;
  reason: 'KILL_FLATTEN' | 'ORPHAN_FLATTEN';
}

export interface FlattenResult {
  flattened: boolean;
  netPnl: number;
  /** Exchange time of the flatten's fill. */
  venueTime: number | null;
  detail: string;
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

/** What the position lifecycle asks of the exchange; every answer is a fact for core/position-lifecycle.ts. */
export interface PositionActivities {
  /** Size from a sane price and send the entry (looked up by id first); never retried inside. */
  submitEntry(req: { symbol: string; side: PositionSide; notional: number; leverage: number; clientOrderId: string; sendBefore: number }): Promise<OrderAnswer>;
  /** Reduce-only MARKET for `quantity`, or for the whole exchange position on our side when null. */
  submitExit(req: { symbol: string; side: PositionSide; clientOrderId: string; sendBefore: number; quantity: number | null }): Promise<OrderAnswer>;
  /** `at`: local time before the first query; null = the exchange does not know the id. */
  lookupOrders(req: { symbol: string; clientOrderIds: string[] }): Promise<{ at: number; orders: Record<string, OrderFact | null> }>;
  /** Cancels what is still open of the order and answers its state afterwards. */
  cancelOpenOrder(req: { symbol: string; clientOrderId: string }): Promise<OrderFact | null>;
  fetchFills(req: { symbol: string; orderId: number }): Promise<FillFact[]>;
  placeStop(req: { symbol: string; side: PositionSide; triggerPrice: number; clientAlgoId: string; sendBefore: number }): Promise<StopAnswer>;
  cancelStop(req: { symbol: string; clientAlgoId: string }): Promise<{ outcome: 'GONE' | 'FIRED' | 'FAILED'; actualOrderId: number | null; reason?: string }>;
  /** The symbol's position and mark from the worker's shared snapshot, newer than `after` when given. */
  readExchangePosition(req: { symbol: string; after: number | null }): Promise<Reading>;
  gatherCloseEvidence(req: { symbol: string; side: PositionSide; clientAlgoId: string; since: number | null }): Promise<CloseEvidence>;
  applyJournalWrites(req: { writes: JournalWrite[] }): Promise<void>;
  notifyPosition(req: { positionId: string; notices: Notice[] }): Promise<void>;
  /**
   * Have the worker's mark stream watch the position's exit levels (event-driven mode): registers or
   * refreshes the watch; `streaming` is false when this worker has no trusted stream for the symbol.
   */
  watchExits(req: ExitWatchRequest): Promise<{ streaming: boolean }>;
  unwatchExits(req: { positionId: string }): Promise<void>;
}

/** What the worker's exit watcher needs of an open position: its levels follow from these and the rules. */
export interface ExitWatchRequest {
  positionId: string;
  workflowId: string;
  symbol: string;
  side: PositionSide;
  entryPrice: number;
  openedAt: number;
  /** The best price the position has believed since entry (the trailing stop's anchor). */
  bestPrice: number;
  rules: ExitRules;
  /** The exit the watch may send by itself when a level is crossed (core/position-lifecycle.ts armStreamExit). */
  armedExit?: ArmedExit;
}

/**
 * `openPosition` .. `journalEntryFailure` serve position workflows started before the lifecycle
 * (workflows/position-legacy.ts) until none of them runs any more.
 */
/** The worker's clock, read into a workflow's history (workflows/clock.ts says why). */
export interface ClockActivities {
  readClock(): Promise<number>;
}

/** A pass of a symbol loop with nothing to do but score and decide (workflows/symbol.ts `quietPass`). */
export interface PassRequest {
  symbol: string;
  dueAt: number;
  /** What the loop knew when the pass began: the decision is taken on it, here and again in the workflow. */
  loop: LoopState;
  params: TradingParams;
  /** The journal row's key and provenance; the activity adds the signal, the decision and its time. */
  record: Pick<DecisionRecord, 'workflowId' | 'symbol' | 'seq' | 'instanceId' | 'runId' | 'taskEvent'>;
  /**
   * The loop takes an entry's refusal from the risk book's published copy (`refused` below). Loops recorded before
   * that do not send it, and their entries are never judged (nor journaled) here.
   */
  refuseFromBookCopy?: boolean;
}

export interface PassResult {
  /** The worker's clock when the pass began: the pass's time in history, as `readClock` gives it. */
  now: number;
  signal: ScoredSignal;
  /** The decision's row is in the journal (false for an entry, which is journaled after it, or when the journal did not answer). */
  journaled: boolean;
  /** The entry the pass decided on is one the risk book's published copy refuses: the decision is RISK_REJECTED. */
  refused?: Extract<RiskVerdict, { approved: false }>;
}

export interface TradingActivities extends PositionActivities, ClockActivities {
  /** `dueAt`: when the tick was due (epoch ms); its lateness is measured when the activity starts. */
  evaluateSignal(req: { workflowId: string; symbol: string; dueAt?: number }): Promise<ScoredSignal>;
  /** The clock, the signal, the loop's decision and, unless it is an entry, its journal row: one local activity. */
  evaluatePass(req: PassRequest): Promise<PassResult>;
  journalDecision(rec: DecisionRecord): Promise<void>;
  checkEntryRisk(req: { symbol: string; notional: number; leverage: number }): Promise<RiskVerdict>;
  openPosition(req: EntryRequest): Promise<EntryResult>;
  placeProtectiveStop(req: StopRequest): Promise<void>;
  readPosition(req: { symbol: string }): Promise<PositionReading>;
  closePosition(req: ExitRequest): Promise<ExitResult>;
  settleProtectiveStop(req: StopSettlement): Promise<Extract<ExitResult, { status: 'CLOSED' }>>;
  journalEntryFailure(req: { positionId: string; workflowId: string; symbol: string; side: PositionSide; reason: string }): Promise<void>;

  // ---- book-wide risk, ownership, reconciliation ----
  /** Decisions buffered while the journal was down are written with the next ones; `dropped` counts those lost to the bound. */
  journalDecisions(req: { records: DecisionRecord[]; dropped: number }): Promise<void>;
  /** Reserve entry capacity in the risk book (atomic across symbols), after checking the symbol is flat. */
  reserveEntry(req: EntryReservation): Promise<RiskVerdict>;
  /** The live position on a symbol: its running workflow, or exposure nobody owns. */
  findLivePosition(req: { symbol: string; knownPositionId: string | null }): Promise<LivePosition>;
  /** Close a symbol's exposure with a reduce-only MARKET order, without a position workflow. */
  flattenSymbol(req: FlattenRequest): Promise<FlattenResult>;
  loadKillSwitch(): Promise<{ on: boolean; reason: string | null }>;
  persistKillSwitch(req: { on: boolean; reason: string | null }): Promise<void>;
  observeBook(req: Record<string, never>): Promise<Observation>;
  cancelStaleStop(req: Extract<ReconcileAction, { kind: 'CANCEL_STOP' }>): Promise<string>;
  settleOrphanRow(req: Extract<ReconcileAction, { kind: 'SETTLE_ROW' }>): Promise<{ netPnl: number; venueTime: number | null; detail: string }>;
  /** Net P&L and venue close time of a position the journal knows closed (0 / null when it has no row). */
  closedPositionPnl(req: { positionId: string }): Promise<{ netPnl: number; venueTime: number | null }>;
  /** Log a pass, keep it for /health, and journal action outcomes as risk events; returns how many were journaled. */
  recordReconciliation(req: { result: ReconcileResult; unjournaled: ActionOutcome[] }): Promise<number>;
}
