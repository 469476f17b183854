import type { ExitRules, ExitTracker } from './exits.js';
import type { MarkGuard } from './mark-sanity.js';
import { qtyTolerance, type Books, type FillFact, type OrderAttempt, type OrderFact } from './position-orders.js';
import type { ExitReason, OrderSide, PositionSide } from './types.js';

/** The position lifecycle's vocabulary: its state, the facts it takes, the commands and writes it gives. */

export const LIFECYCLE_TIMING = {
  /** An order request may leave the worker only this long after it was issued. */
  sendWindowMs: 10_000,
  /** A request signed before its sendBefore is refused by the exchange after its recvWindow (5 s) + clock margin. */
  acceptWindowMs: 6_000,
  /** After that, an entry of unknown outcome is still watched this long for an execution reported late. */
  lateExecutionWatchMs: 30_000,
  /** Poll cadence of orders whose outcome is pending. */
  pollMs: 1_000,
  /** Entry sends allowed when earlier ones are known not to have executed (rate limited, not sent). */
  maxEntrySends: 3,
  /** No new entry attempt this long after the decision: the signal is stale by then. */
  entryDeadlineMs: 30_000,
  /** A stop not on the exchange after this long of attempts closes the position at market. */
  protectWithinMs: 8_000,
  protectRetryMs: 500,
  /** An order NEW / PARTIALLY_FILLED this long is cancelled (entries: the remainder; exits: resent). */
  liveOrderWaitMs: 10_000,
  /** Longest pause between retries of exits, fills lookups and stop cancellation. */
  maxBackoffMs: 30_000,
  /** Flat reads without a closing fill to explain them, in a row, before an alert. */
  flatStrikesBeforeAlert: 3,
  /**
   * An armed exit may leave a worker only this long after the position last registered it (the watch's own
   * clock): a watch left behind on a worker that no longer runs the position cannot send it much later.
   */
  armedLeaseMs: 20_000,
  /** An armed position registers again this often, so its lease never lapses while it is open. */
  armedRefreshMs: 10_000,
  /**
   * After a position's last armed registration, no new position on its symbol before lease + this margin
   * (a registration that ran late, the stream's 2 s send window, the exchange's acceptance window).
   */
  armedMarginMs: 15_000,
} as const;

export type LifecycleStage = 'ENTERING' | 'ADOPTING' | 'PROTECTING' | 'OPEN' | 'EXITING' | 'CLOSED';
/** Why a position is closed other than by its exit rules. */
export type CloseReason = Extract<ExitReason, 'MANUAL' | 'KILL_FLATTEN' | 'PROTECTION_FAILED' | 'STOP_LOSS'>;

export interface LifecycleResult {
  outcome: 'CLOSED' | 'ENTRY_FAILED';
  exitReason: ExitReason | null;
  netPnl: number;
  /** Exchange time of the closing fill, or of the failed entry's last answer; null when the exchange never saw it. */
  venueTime: number | null;
  detail?: string;
}

export type ProtectionStatus = 'NONE' | 'PLACED' | 'FAILED' | 'ABANDONED' | 'CANCELLED' | 'FIRED';

export interface PositionLifecycle {
  version: 2;
  stage: LifecycleStage;
  positionId: string;
  workflowId: string;
  symbol: string;
  side: PositionSide;
  /** Client order id stem: -E<n> entries, -S the stop, -X<n> exits, -R<n> reductions. */
  idStem: string;
  /** Quote notional to enter with; 0 for an adoption. */
  notional: number;
  adoption: { reason: string; entryPrice: number } | null;
  orders: OrderAttempt[];
  entryRetryAt: number;
  entryDeadline: number;
  exitRetryAt: number;
  exitFailures: number;
  /** Exposure this position owns, from exchange facts (executions in, executions out). */
  quantity: number;
  /** Price an entry was sized from (the fallback for the stop level while fills carry no price). */
  referencePrice: number | null;
  entryPrice: number;
  entryFee: number;
  /** Workflow time the first exposure was known (the time limit counts from here). */
  openedAt: number;
  openedVenueTime: number | null;
  protection: {
    status: ProtectionStatus;
    startedAt: number;
    retryAt: number;
    failures: number;
    venueTime: number | null;
    /** A stop request of unknown outcome may still land until then: a stop not PLACED is cancelled after it. */
    fenceUntil: number;
  };
  stopPrice: number | null;
  takeProfitPrice: number | null;
  tracker: ExitTracker | null;
  marks: MarkGuard;
  lastMark: number | null;
  lastMarkAt: number | null;
  nextReadAt: number;
  /** A read showed no exposure; `confirmed` once a later read agrees. Evidence decides what it means. */
  flat: { firstReadAt: number; confirmed: boolean; evidenceAt: number } | null;
  flatStrikes: number;
  /** The exchange shows more exposure on our side than this position owns. */
  excess: { quantity: number } | null;
  closeRequest: { reason: CloseReason } | null;
  exitReason: ExitReason | null;
  /**
   * The exit order id the worker's stream watch may send by itself the moment a mark crosses a level
   * (event-driven mode, see armStreamExit); null or absent when nothing is armed. Until the position learns
   * what became of it (the watch's report, or a lookup once it reads flat), that id is the next exit's.
   */
  armedExit?: string | null;
  books: Books;
  /** What the journal's position row says, so a change is written once. */
  journaledEntry: { quantity: number; entryPrice: number; entryFee: number } | null;
  /** Alert kinds already raised (each once per position). */
  alerted: string[];
  result: LifecycleResult | null;
}

// ---- facts, commands, outputs --------------------------------------------------------------------------

export type OrderAnswer =
  | { outcome: 'ORDER'; order: OrderFact; referencePrice?: number }
  | { outcome: 'NOT_SENT'; reason: string; retryAfterMs?: number }
  | { outcome: 'REFUSED'; reason: string; code: number | null }
  | { outcome: 'UNKNOWN'; reason: string; referencePrice?: number }
  /** Exits only: the exchange showed nothing to close (read flat, or reduce-only refused); nothing executed. */
  | { outcome: 'FLAT'; at: number };

export type StopAnswer =
  | { outcome: 'PLACED'; venueTime: number | null }
  /** -2021: the price is already through the stop level. */
  | { outcome: 'WOULD_TRIGGER'; reason: string }
  | { outcome: 'REFUSED'; reason: string; code: number | null }
  /** Not placed this time (rate limit, 5xx, timeout); the next attempt looks the id up first. */
  | { outcome: 'FAILED'; reason: string };

export interface Reading {
  /** Wall-clock time the exchange was read (ms). */
  at: number;
  /** Signed one-way position amount: positive long, negative short, 0 flat. */
  positionAmt: number;
  markPrice: number;
}

export interface CloseEvidence {
  /** The protective stop's state on the exchange, null when the exchange does not know it. */
  stop: { status: string; actualOrderId: number | null } | null;
  /** Trades on the symbol on our closing side since the position opened. */
  closingTrades: FillFact[];
}

export type LifecycleFact =
  | { kind: 'WOKE' }
  /** Fed between commands (never while one runs): an attempt still SENDING then has not been sent. */
  | { kind: 'CLOSE_REQUESTED'; reason: CloseReason }
  | { kind: 'ORDER_ANSWER'; clientOrderId: string; answer: OrderAnswer }
  | { kind: 'ORDERS_SEEN'; at: number; orders: Record<string, OrderFact | null> }
  | { kind: 'LOOKUP_FAILED'; clientOrderIds: string[]; reason: string }
  | { kind: 'CANCEL_ANSWER'; clientOrderId: string; order: OrderFact | null }
  | { kind: 'STOP_ANSWER'; answer: StopAnswer }
  | { kind: 'READING'; reading: Reading }
  | { kind: 'READ_FAILED'; reason: string }
  /**
   * A mark from the worker's stream that crossed an exit level (event-driven mode), with the best price the
   * stream's watcher believed since it was told of the position. Judged like a read mark (no exit on one bad print).
   */
  | { kind: 'STREAM_MARK'; price: number; bestPrice: number | null }
  /**
   * The stream's watch crossed a level and sent the armed exit itself (its answer is not known here): the
   * order is this position's exit whatever the lifecycle makes of the mark, and is confirmed by looking its
   * id up (the exit send does that first).
   */
  | { kind: 'STREAM_EXIT'; clientOrderId: string; price: number; bestPrice: number | null; reason: ExitReason }
  /** The symbol's stream is not trusted now: read the exchange soon instead of waiting for the slow poll. */
  | { kind: 'STREAM_LOST' }
  | { kind: 'EVIDENCE'; evidence: CloseEvidence }
  | { kind: 'EVIDENCE_FAILED'; reason: string }
  | { kind: 'FILLS'; clientOrderId: string; fills: FillFact[] }
  | { kind: 'FILLS_FAILED'; clientOrderId: string; reason: string }
  | { kind: 'STOP_CANCELLED'; outcome: 'GONE' | 'FIRED' | 'FAILED'; actualOrderId: number | null; reason?: string };

export type LifecycleCommand =
  | { kind: 'SEND_ENTRY'; clientOrderId: string; sendBefore: number; notional: number }
  /** Reduce-only MARKET; quantity null = whatever the exchange holds on our side. */
  | { kind: 'SEND_EXIT'; clientOrderId: string; sendBefore: number; quantity: number | null }
  | { kind: 'LOOKUP'; clientOrderIds: string[] }
  | { kind: 'CANCEL_ORDER'; clientOrderId: string }
  | { kind: 'PLACE_STOP'; clientAlgoId: string; triggerPrice: number; sendBefore: number }
  | { kind: 'CANCEL_STOP'; clientAlgoId: string }
  /** `after`: the read must be newer than this (a confirmation is never a cached answer). */
  | { kind: 'READ'; after: number | null }
  | { kind: 'GATHER_EVIDENCE'; clientAlgoId: string; since: number | null }
  | { kind: 'FETCH_FILLS'; clientOrderId: string; orderId: number }
  | { kind: 'WAIT'; until: number }
  | { kind: 'DONE' };

/** Idempotent journal writes (keyed), held by the workflow until Postgres takes them. */
export type JournalWrite =
  | { kind: 'order'; order: JournalOrder }
  | { kind: 'fills'; fills: JournalFill[] }
  | { kind: 'entry'; entry: JournalEntry; ifAbsent: boolean }
  | { kind: 'close'; close: JournalClose }
  | { kind: 'riskEvent'; key: string; event: string; symbol: string; detail: Record<string, unknown> };

export interface JournalOrder {
  clientOrderId: string;
  symbol: string;
  positionId: string;
  purpose: 'ENTRY' | 'EXIT' | 'PROTECTIVE_STOP';
  side: OrderSide;
  type: string;
  quantity: number;
  status: string;
  exchangeOrderId: number | null;
  avgPrice: number;
  executedQty: number;
  reduceOnly: boolean;
  updatedAt: number;
}
export type JournalFill = FillFact & { symbol: string; clientOrderId: string; positionId: string };
export interface JournalEntry {
  positionId: string;
  workflowId: string;
  symbol: string;
  side: PositionSide;
  quantity: number;
  entryPrice: number;
  entryFee: number;
  openedAt: number;
  stopPrice: number | null;
  takeProfitPrice: number | null;
  /** The model version whose signal opened the position and the open time of the candle it scored (the workflow adds them). */
  modelVersion?: string | null;
  entryCandleTime?: number | null;
}
export interface JournalClose {
  positionId: string;
  exitPrice: number;
  exitReason: ExitReason;
  exitFee: number;
  grossPnl: number;
  netPnl: number;
  closedAt: number;
}

/** Something operators should see: a log line, and optionally a counter to bump. */
export interface Notice {
  level: 'info' | 'warn' | 'error';
  message: string;
  counter?: { name: 'orders' | 'positionsClosed' | 'alerts'; label: string };
}

export interface LifecycleContext {
  now: number;
  rules: ExitRules;
  /** How often an open position reads the exchange. */
  checkEveryMs: number;
}

export interface StepOutput {
  state: PositionLifecycle;
  command: LifecycleCommand;
  journal: JournalWrite[];
  notices: Notice[];
}


// ---- ids and construction ------------------------------------------------------------------------------

export const entryOrderId = (stem: string, n: number): string => (n === 1 ? `${stem}-E` : `${stem}-E${n}`);
export const exitOrderId = (stem: string, n: number): string => `${stem}-X${n}`;
export const reduceOrderId = (stem: string, n: number): string => `${stem}-R${n}`;
export const stopOrderId = (stem: string): string => `${stem}-S`;

// ---- shared by facts and transitions -------------------------------------------------------------------

export const T = LIFECYCLE_TIMING;
export const backoff = (failures: number, first: number = T.pollMs): number => Math.min(T.maxBackoffMs, first * 2 ** Math.max(0, failures - 1));
export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
export const ofPurpose = (s: PositionLifecycle, purpose: OrderAttempt['purpose']): OrderAttempt[] => s.orders.filter((a) => a.purpose === purpose);
export const isFlatQty = (q: number, owned: number): boolean => q <= qtyTolerance(owned);
/** An exit still able to execute and not yet given up on (a stale live one was asked to cancel). */
export const exitInProgress = (a: OrderAttempt): boolean => a.status === 'SENDING' || a.status === 'UNKNOWN' || (a.status === 'LIVE' && a.cancelAt === null);
/** When an order of unknown outcome can no longer appear: its send window, the exchange's acceptance window, and for entries the late-execution watch. */
export const fenceEnd = (a: OrderAttempt): number => a.sendBefore + T.acceptWindowMs + (a.purpose === 'ENTRY' ? T.lateExecutionWatchMs : 0);
/** A stop that is, or may be, on the exchange: it must be cancelled before the position is closed in the books. */
export const stopMayBeOn = (s: PositionLifecycle): boolean =>
  s.protection.status === 'PLACED' || ((s.protection.status === 'FAILED' || s.protection.status === 'ABANDONED') && s.protection.failures > 0);
