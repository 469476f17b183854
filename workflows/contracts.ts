import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ExitReason, PositionSide, Signal } from '../core/types.js';
import type { TradingParams } from '../core/params.js';
import type { ExitDistances, ExitTracker } from '../core/exits.js';
import type { JournalWrite, PositionLifecycle } from '../core/position-lifecycle.js';
import type { ReleaseRequest } from '../core/risk-book.js';
import type { DecisionRecord } from '../activities/contracts.js';

/** Feature switches that can change at runtime alongside the trading parameters. */
export interface TradingFlags {
  /** QT_ENABLE_AI_TRADING: false keeps signals journaled but opens no position. */
  aiTradingEnabled: boolean;
  /** QT_ENABLE_EXECUTION: false sends no orders; entries are journaled as WOULD_TRADE. */
  executionEnabled: boolean;
}

export type SymbolPhase = 'SCANNING' | 'IN_POSITION' | 'COOLDOWN' | 'KILLED';

/** Everything a symbol workflow knows; carried whole across continue-as-new. Plain JSON. */
export interface SymbolState {
  symbol: string;
  /** Short id fixed at the first run; makes position and order ids unique across redeployments. */
  instanceId: string;
  params: TradingParams;
  flags: TradingFlags;
  killed: boolean;
  killReason: string | null;
  cooldownUntil: number;
  openPositionId: string | null;
  openPositionSide: PositionSide | null;
  /** Counts positions ever opened by this symbol workflow: the position / order id sequence. */
  positionSeq: number;
  /** Counts ticks ever run: the journal's idempotency key for signals. */
  tickSeq: number;
  /** `atrNorm`: the candle's ATR 14 / close, from which an entry's ATR exits are fixed (absent before ATR exits). */
  lastSignal: { signal: Signal; confidence: number; candleTime: number; at: number; model: string; atrNorm?: number } | null;
  lastDecision: string | null;
  lastExit: { positionId: string; reason: ExitReason | 'ENTRY_FAILED'; netPnl: number; at: number } | null;
  runsSoFar: number;
  /**
   * False until this loop has looked for a live position on its symbol (a running position workflow,
   * exchange exposure): a loop started again must own that position, never open a second. Entries wait
   * for it. Absent in states from before this check existed (those loops never lost track).
   */
  ownershipChecked?: boolean;
  /** Decisions not yet in the journal (Postgres unreachable), oldest first; bounded. */
  pendingDecisions?: DecisionRecord[];
  /** Decisions dropped because the bound above was reached while the journal was down, ever. */
  droppedDecisions?: number;
  /** Dropped decisions not yet reported to the journal as a risk event. */
  unreportedDrops?: number;
  /** Risk-book releases not yet delivered (capacity and P&L of closed or failed positions). */
  pendingReleases?: ReleaseRequest[];
  /** Position reports received and not yet taken in: they are taken in at the top of the next pass. */
  positionReports?: PositionReport[];
  /** Counts flattens sent without a position workflow (their client order ids). */
  flattenSeq?: number;
  /**
   * The loop's clock for its decisions, read into history at the top of every loop pass
   * (workflows/clock.ts says why `Date.now()` is not enough). Absent before the first pass.
   */
  clock?: number;
}

export interface SymbolWorkflowInput {
  symbol: string;
  params: TradingParams;
  flags: TradingFlags;
  /** Continue-as-new after this many ticks in one run, whatever the server suggests. */
  tickCap?: number;
  /** Present when continuing from a previous run. */
  state?: SymbolState;
}

export interface KillRequest {
  flatten: boolean;
  reason: string;
}

export interface PositionReport {
  positionId: string;
  outcome: 'CLOSED' | 'ENTRY_FAILED';
  exitReason: ExitReason | null;
  netPnl: number;
  /** Workflow time of the exit: the cooldown starts here. */
  at: number;
  /**
   * Exchange time of the exit (the closing fill) or of the failed entry's last answer: the daily loss is
   * counted in the venue's clock (market time on a replaying paper exchange). The workflow's time when the
   * exchange never saw the entry.
   */
  venueTime: number;
  detail?: string;
  /** The position gave its reservation back to the risk book itself; absent in reports from before that. */
  released?: boolean;
  /**
   * A watch may send the position's armed exit until then (workflow time, with a margin): no new position on
   * the symbol before it, so a watch left behind on another worker never exits the next one. Absent when
   * nothing was armed.
   */
  armedUntil?: number;
}

/** Reconciliation to a symbol loop: the position it holds has no running workflow, or its symbol has exposure nobody owns. */
export interface ReclaimRequest {
  /** The loop's position whose workflow is gone; null when the loop holds none. */
  stalePositionId: string | null;
  reason: string;
}
export const reclaimSignal = defineSignal<[ReclaimRequest]>('reclaim');

export interface ConfigChange {
  params?: Partial<Record<keyof TradingParams, number | string>>;
  flags?: Partial<TradingFlags>;
}

export const killSignal = defineSignal<[KillRequest]>('kill');
export const resumeSignal = defineSignal<[]>('resume');
export const positionClosedSignal = defineSignal<[PositionReport]>('positionClosed');

/** Event-driven mode: the worker's market data asks the loop to evaluate now (a candle closed, the mark moved). */
export interface MarketWake {
  reasons: ('CANDLE_CLOSED' | 'MARK_MOVE')[];
}
export const marketWakeSignal = defineSignal<[MarketWake]>('marketWake');

/** Event-driven mode: the worker's mark stream saw a mark cross one of the position's exit levels. */
export interface ExitCrossing {
  price: number;
  /** The best price the stream's watcher believed before this mark (the trailing stop's anchor). */
  bestPrice: number;
  /** The watch sent the position's armed exit (its outcome is for the position to confirm), for this reason. */
  armed?: { clientOrderId: string; reason: ExitReason };
}
export const exitCrossedSignal = defineSignal<[ExitCrossing]>('exitCrossed');
/** The worker asks the position to register its exit watch again (its stream went stale or came back, or the worker restarted). */
export const exitWatchResetSignal = defineSignal<[{ reason: string }]>('exitWatchReset');
export const configUpdate = defineUpdate<{ params: TradingParams; flags: TradingFlags }, [ConfigChange]>('config');
export const symbolStateQuery = defineQuery<SymbolState & { phase: SymbolPhase }>('state');

/** Position workflow contracts. */
export interface PositionInput {
  positionId: string;
  symbol: string;
  side: PositionSide;
  notional: number;
  confidence: number;
  parentWorkflowId: string;
  params: TradingParams;
  /** Deterministic client order id stem (<= 30 chars); suffixes E, S, X1.. make the ids. */
  orderIdStem: string;
  /**
   * Adoption: start from an exchange position nobody owns instead of sending an entry. The workflow reads
   * the exchange (what it shows on `side` is owned, `quantity` is what the caller saw), places the stop,
   * journals an OPEN row unless the position id has one, and manages the exits. `notional` is ignored.
   */
  adopt?: { quantity: number; entryPrice: number; reason: string };
  /** The signal that opened it: its model version and scored candle go into the position's journal row. */
  entrySignal?: { model: string; candleTime: number };
  /**
   * Its exit distances (percent of entry), fixed at entry from the signal's candle (core/exits.ts
   * entryExitDistances): the exchange stop, the take profit and the trail use these instead of `params`'
   * percentages. Absent for adopted positions and positions started before ATR exits: `params` then.
   */
  exits?: ExitDistances;
  /** Present when continuing from a previous run (the legacy shape for a run of the earlier workflow). */
  state?: PositionLifecycle | LegacyPositionState;
  /** Journal writes Postgres has not taken yet, carried across continue-as-new. */
  pendingJournal?: JournalWrite[];
  /** The report already sent to the symbol workflow, carried across continue-as-new. */
  report?: PositionReport | null;
}

export type PositionStage = 'ENTERING' | 'OPEN' | 'EXITING' | 'CLOSED';

/** State of a position workflow started before the position lifecycle (workflows/position-legacy.ts). */
export interface LegacyPositionState {
  stage: PositionStage;
  quantity: number;
  entryPrice: number;
  entryFee: number;
  openedAt: number;
  tracker: ExitTracker | null;
  stopPrice: number | null;
  takeProfitPrice: number | null;
  lastMark: number | null;
  lastMarkAt: number | null;
  exitAttempts: number;
  closeRequest: { reason: CloseRequestReason } | null;
  result: PositionReport | null;
}

export const closePositionSignal = defineSignal<[{ reason: 'MANUAL' | 'KILL_FLATTEN' }]>('closePosition');
/** Why a position is closed on request rather than by its exit rules. */
export type CloseRequestReason = Extract<ExitReason, 'MANUAL' | 'KILL_FLATTEN' | 'PROTECTION_FAILED'>;
export const positionStateQuery = defineQuery<PositionInput & { state: PositionLifecycle | LegacyPositionState }>('positionState');

/**
 * Workflow task timeout of the trading fleet's long-lived workflows (Temporal's default is 10 s): the symbol loops,
 * the positions, the risk book and the reconciler, set when each starts and at each continue-as-new.
 *
 * Why: a workflow task that a worker had started when it was SIGKILLed stays with that dead worker until this
 * timeout runs out, counted from the task's start; only then does the server hand it to the new worker. With the
 * default 10 s, a loop whose task was in flight ticked again 1.8 to 5.4 s after its new worker was back (the
 * slowest restarts of the 10-minute chaos runs), and a risk book whose task was in flight held every entry back
 * until 4.3 s after it. These workflows' tasks are short (runs of at most 200 or 500 events; local activities keep
 * a long task alive with heartbeats at 80 % of the timeout), so 5 s leaves room for a busy worker while a dead
 * worker's tasks move on about as soon as the new worker is up.
 */
export const WORKFLOW_TASK_TIMEOUT = '5s';

/**
 * Task priorities (1 is taken first; 3, the default, is the loops'). When a fleet's tasks queue (a candle close wakes
 * every loop at once), the risk book's and the positions' tasks are taken before the loops' passes: the book decides
 * one entry at a time for the whole fleet, and a position's tasks are its orders and exits.
 */
export const RISK_BOOK_PRIORITY = { priorityKey: 1 } as const;
export const POSITION_PRIORITY = { priorityKey: 2 } as const;

export const symbolWorkflowId = (symbol: string): string => `qt-symbol-${symbol}`;
export const positionWorkflowId = (positionId: string): string => `qt-position-${positionId}`;
