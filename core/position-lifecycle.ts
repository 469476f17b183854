import { exitLevels, newTracker, observePrice, type ExitRules, type ExitTracker } from './exits.js';
import { NEW_MARK_GUARD, isPlausiblePrice, judgeMark, type MarkGuard } from './mark-sanity.js';
import {
  EMPTY_BOOKS,
  bookFills,
  executedVwap,
  hasUnbookedFills,
  isUnresolved,
  knownExecution,
  newAttempt,
  observeOrder,
  qtyTolerance,
  type Books,
  type FillFact,
  type OrderAttempt,
  type OrderFact,
} from './position-orders.js';
import { entryOrderSide, exitOrderSide, type ExitReason, type OrderSide, type PositionSide } from './types.js';

/**
 * The life of one exchange position, as a pure state machine:
 *
 *   ENTERING ──fill──▶ PROTECTING ──stop on──▶ OPEN ──exit rule / close / flat with evidence──▶ EXITING ──▶ CLOSED
 *   ADOPTING ──exchange shows it──▶ PROTECTING            (ENTERING ──no fill for the id stem──▶ CLOSED ENTRY_FAILED)
 *
 * `step(state, fact, ctx)` applies one fact read from the exchange (or a request, or the passing of time),
 * makes every transition the facts allow, and returns the one command to run next plus the journal writes
 * and notices it produced. The position workflow runs the command with an activity and feeds its answer
 * back as the next fact. Rules this machine holds:
 *
 * - Facts come from the exchange, never from a missing answer: an unknown order outcome is looked up; an
 *   entry is ENTRY_FAILED only when no order of the id stem filled; "flat" needs a second read that agrees
 *   and a closing fill that explains it (the stop's fill, our exit's fill, or trades on the symbol).
 * - Any executed quantity is owned and protected (the stop is closePosition, so it covers any size).
 * - The stop goes on before any journal write (the workflow holds journal writes until protection is
 *   settled); a stop that cannot be placed within a bounded time, or is refused, closes the position.
 * - No order is sent twice: a request may leave the worker only before its `sendBefore`; an entry whose
 *   outcome is unknown is never resent, only watched until it can no longer appear; exits are resent under
 *   the next id, reduce-only, once the earlier id is known final or absent.
 * - One bad print never trades (core/mark-sanity.ts).
 */

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
  protection: { status: ProtectionStatus; startedAt: number; retryAt: number; failures: number; venueTime: number | null };
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
  | { kind: 'CLOSE_REQUESTED'; reason: CloseReason }
  | { kind: 'ORDER_ANSWER'; clientOrderId: string; answer: OrderAnswer }
  | { kind: 'ORDERS_SEEN'; at: number; orders: Record<string, OrderFact | null> }
  | { kind: 'LOOKUP_FAILED'; clientOrderIds: string[]; reason: string }
  | { kind: 'CANCEL_ANSWER'; clientOrderId: string; order: OrderFact | null }
  | { kind: 'STOP_ANSWER'; answer: StopAnswer }
  | { kind: 'READING'; reading: Reading }
  | { kind: 'READ_FAILED'; reason: string }
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
  | { kind: 'PLACE_STOP'; clientAlgoId: string; triggerPrice: number }
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

interface Out {
  journal: JournalWrite[];
  notices: Notice[];
}

// ---- ids and construction ------------------------------------------------------------------------------

export const entryOrderId = (stem: string, n: number): string => (n === 1 ? `${stem}-E` : `${stem}-E${n}`);
export const exitOrderId = (stem: string, n: number): string => `${stem}-X${n}`;
export const reduceOrderId = (stem: string, n: number): string => `${stem}-R${n}`;
export const stopOrderId = (stem: string): string => `${stem}-S`;

interface Identity {
  positionId: string;
  workflowId: string;
  symbol: string;
  side: PositionSide;
  idStem: string;
}

function base(id: Identity, now: number): PositionLifecycle {
  return {
    version: 2,
    stage: 'ENTERING',
    ...id,
    notional: 0,
    adoption: null,
    orders: [],
    entryRetryAt: now,
    entryDeadline: now + LIFECYCLE_TIMING.entryDeadlineMs,
    exitRetryAt: now,
    exitFailures: 0,
    quantity: 0,
    referencePrice: null,
    entryPrice: 0,
    entryFee: 0,
    openedAt: 0,
    openedVenueTime: null,
    protection: { status: 'NONE', startedAt: 0, retryAt: now, failures: 0, venueTime: null },
    stopPrice: null,
    takeProfitPrice: null,
    tracker: null,
    marks: NEW_MARK_GUARD,
    lastMark: null,
    lastMarkAt: null,
    nextReadAt: now,
    flat: null,
    flatStrikes: 0,
    excess: null,
    closeRequest: null,
    exitReason: null,
    books: { ...EMPTY_BOOKS, tradeIds: [] },
    journaledEntry: null,
    alerted: [],
    result: null,
  };
}

/** A position that starts with a MARKET entry of `notional`. */
export function newEntry(id: Identity & { notional: number }, now: number): PositionLifecycle {
  return { ...base(id, now), notional: id.notional };
}

/** A position that takes over an exchange position nobody owns: no entry order; protect, then manage. */
export function newAdoption(id: Identity & { entryPrice: number; reason: string }, now: number): PositionLifecycle {
  return { ...base(id, now), stage: 'ADOPTING', adoption: { reason: id.reason, entryPrice: id.entryPrice } };
}

/**
 * A position that is already open with its stop on and its entry journaled (a position workflow of the
 * earlier design handing over). Earlier exit ids are looked up again: one of them may have executed.
 */
export function resumedPosition(
  id: Identity & { quantity: number; entryPrice: number; entryFee: number; openedAt: number; tracker: ExitTracker; stopPrice: number; takeProfitPrice: number },
  previousExitIds: string[],
  closeRequest: { reason: CloseReason } | null,
  now: number,
): PositionLifecycle {
  const s = base(id, now);
  const entry = knownExecution(entryOrderId(id.idStem, 1), 'ENTRY', 0, id.quantity, now);
  entry.orderId = null;
  entry.avgPrice = id.entryPrice;
  entry.bookedQty = id.quantity;
  const exits = previousExitIds.map((x) => ({ ...newAttempt(x, 'EXIT', now, 0), status: 'UNKNOWN' as const }));
  Object.assign(s, {
    stage: 'OPEN',
    orders: [entry, ...exits],
    quantity: id.quantity,
    entryPrice: id.entryPrice,
    entryFee: id.entryFee,
    openedAt: id.openedAt,
    protection: { status: closeRequest?.reason === 'PROTECTION_FAILED' ? 'FAILED' : 'PLACED', startedAt: now, retryAt: now, failures: 0, venueTime: null },
    stopPrice: id.stopPrice,
    takeProfitPrice: id.takeProfitPrice,
    tracker: id.tracker,
    closeRequest,
  });
  s.books = { ...s.books, entryQty: id.quantity, entryQuote: id.quantity * id.entryPrice, entryFees: id.entryFee, fees: id.entryFee };
  s.journaledEntry = { quantity: id.quantity, entryPrice: id.entryPrice, entryFee: id.entryFee };
  return s;
}

// ---- the step ------------------------------------------------------------------------------------------

export function step(previous: PositionLifecycle, fact: LifecycleFact, ctx: LifecycleContext): StepOutput {
  // Plain JSON in, a new object out: the caller's state is never mutated.
  const s = JSON.parse(JSON.stringify(previous)) as PositionLifecycle;
  const out: Out = { journal: [], notices: [] };
  apply(s, fact, ctx, out);
  advance(s, ctx, out);
  return { state: s, command: plan(s, ctx), journal: out.journal, notices: out.notices };
}

const T = LIFECYCLE_TIMING;
const backoff = (failures: number, first: number = T.pollMs): number => Math.min(T.maxBackoffMs, first * 2 ** Math.max(0, failures - 1));
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const ofPurpose = (s: PositionLifecycle, purpose: OrderAttempt['purpose']): OrderAttempt[] => s.orders.filter((a) => a.purpose === purpose);
const isFlatQty = (q: number, owned: number): boolean => q <= qtyTolerance(owned);
/** An exit still able to execute and not yet given up on (a stale live one was asked to cancel). */
const exitInProgress = (a: OrderAttempt): boolean => a.status === 'SENDING' || a.status === 'UNKNOWN' || (a.status === 'LIVE' && a.cancelAt === null);
/** When an order of unknown outcome can no longer appear: its send window, the exchange's acceptance window, and for entries the late-execution watch. */
const fenceEnd = (a: OrderAttempt): number => a.sendBefore + T.acceptWindowMs + (a.purpose === 'ENTRY' ? T.lateExecutionWatchMs : 0);

function apply(s: PositionLifecycle, fact: LifecycleFact, ctx: LifecycleContext, out: Out): void {
  const now = ctx.now;
  const find = (id: string) => s.orders.find((a) => a.clientOrderId === id);
  switch (fact.kind) {
    case 'WOKE':
      return;
    case 'CLOSE_REQUESTED':
      if (s.stage !== 'CLOSED') s.closeRequest ??= { reason: fact.reason };
      return;
    case 'ORDER_ANSWER': {
      const a = find(fact.clientOrderId);
      if (a) applyOrderAnswer(s, a, fact.answer, now, out);
      return;
    }
    case 'ORDERS_SEEN':
      for (const [id, order] of Object.entries(fact.orders)) {
        const a = find(id);
        if (!a) continue;
        a.lastLookupAt = now;
        if (order) record(s, a, order, now, out);
        else if (a.status === 'UNKNOWN' && fact.at >= fenceEnd(a)) a.status = 'ABSENT';
      }
      if (s.excess) {
        if (s.quantity + qtyTolerance(s.quantity) < s.excess.quantity) {
          alert(s, out, 'UNEXPLAINED_EXPOSURE', `${s.symbol}: the exchange holds ${s.excess.quantity} on the ${s.side} side, ${s.positionId} owns ${s.quantity}`);
        }
        s.excess = null;
      }
      return;
    case 'LOOKUP_FAILED':
      for (const id of fact.clientOrderIds) {
        const a = find(id);
        if (a) a.lastLookupAt = now;
      }
      return;
    case 'CANCEL_ANSWER': {
      const a = find(fact.clientOrderId);
      if (!a) return;
      a.cancelAt = now;
      if (fact.order) record(s, a, fact.order, now, out);
      return;
    }
    case 'STOP_ANSWER':
      return applyStopAnswer(s, fact.answer, now, out);
    case 'READING':
      return applyReading(s, fact.reading, ctx, out);
    case 'READ_FAILED':
      s.nextReadAt = now + (s.flat ? T.pollMs : ctx.checkEveryMs);
      return;
    case 'EVIDENCE':
      return applyEvidence(s, fact.evidence, now, out);
    case 'EVIDENCE_FAILED':
      if (s.flat) s.flat.evidenceAt = now + 2 * T.pollMs;
      return;
    case 'FILLS': {
      const a = find(fact.clientOrderId);
      if (a) applyFills(s, a, fact.fills, now, out);
      return;
    }
    case 'FILLS_FAILED': {
      const a = find(fact.clientOrderId);
      if (!a) return;
      fillsNotVisible(s, a, now, out, fact.reason);
      return;
    }
    case 'STOP_CANCELLED':
      return applyStopCancelled(s, fact, now, out);
  }
}

/** What the exchange says about one of our orders: exposure follows its executed quantity. */
function record(s: PositionLifecycle, a: OrderAttempt, o: OrderFact, now: number, out: Out): void {
  const before = `${a.status}|${a.executedQty}`;
  const delta = observeOrder(a, o, now);
  if (delta > 0) {
    s.quantity = a.purpose === 'ENTRY' ? s.quantity + delta : s.quantity - delta;
    if (isFlatQty(s.quantity, delta)) s.quantity = 0;
  }
  if (a.purpose === 'ENTRY' && a.executedQty > 0 && o.updateTime > 0) s.openedVenueTime ??= o.updateTime;
  if (`${a.status}|${a.executedQty}` !== before) {
    out.journal.push({
      kind: 'order',
      order: {
        clientOrderId: a.clientOrderId,
        symbol: s.symbol,
        positionId: s.positionId,
        purpose: a.purpose === 'ENTRY' ? 'ENTRY' : 'EXIT',
        side: o.side,
        type: 'MARKET',
        quantity: o.origQty,
        status: o.status,
        exchangeOrderId: o.orderId,
        avgPrice: o.avgPrice,
        executedQty: o.executedQty,
        reduceOnly: a.purpose !== 'ENTRY',
        updatedAt: now,
      },
    });
  }
}

function applyOrderAnswer(s: PositionLifecycle, a: OrderAttempt, answer: OrderAnswer, now: number, out: Out): void {
  const exitLike = a.purpose !== 'ENTRY';
  switch (answer.outcome) {
    case 'ORDER':
      if (answer.referencePrice !== undefined && a.purpose === 'ENTRY') s.referencePrice ??= answer.referencePrice;
      record(s, a, answer.order, now, out);
      return;
    case 'UNKNOWN':
      if (answer.referencePrice !== undefined && a.purpose === 'ENTRY') s.referencePrice ??= answer.referencePrice;
      a.status = 'UNKNOWN';
      a.detail = answer.reason;
      return;
    case 'NOT_SENT':
      a.status = 'NOT_SENT';
      a.detail = answer.reason;
      if (exitLike) s.exitRetryAt = now + (answer.retryAfterMs ?? T.pollMs);
      else s.entryRetryAt = now + (answer.retryAfterMs ?? T.pollMs);
      return;
    case 'REFUSED':
      a.status = 'REFUSED';
      a.detail = answer.reason;
      if (exitLike) {
        s.exitFailures++;
        s.exitRetryAt = now + backoff(s.exitFailures);
        out.notices.push({ level: 'warn', message: `${s.symbol}: exit order ${a.clientOrderId} refused: ${answer.reason}` });
        if (s.exitFailures >= 3) alert(s, out, 'EXIT_FAILING', `${s.symbol}: ${s.exitFailures} exit orders refused (last: ${answer.reason}); the stop still guards it`);
      }
      return;
    case 'FLAT':
      a.status = 'NOT_SENT';
      a.detail = 'the exchange showed nothing to close';
      s.flat ??= { firstReadAt: answer.at, confirmed: false, evidenceAt: now };
      return;
  }
}

function applyStopAnswer(s: PositionLifecycle, answer: StopAnswer, now: number, out: Out): void {
  const p = s.protection;
  if (p.status !== 'NONE') return;
  switch (answer.outcome) {
    case 'PLACED':
      p.status = 'PLACED';
      p.venueTime = answer.venueTime;
      out.journal.push({ kind: 'order', order: stopRow(s, 'NEW', now) });
      return;
    case 'WOULD_TRIGGER':
      p.status = 'FAILED';
      s.closeRequest ??= { reason: 'STOP_LOSS' };
      out.notices.push({ level: 'warn', message: `${s.symbol}: the price is already through the stop level (${answer.reason}); closing at market` });
      return;
    case 'REFUSED':
      p.status = 'FAILED';
      s.closeRequest ??= { reason: 'PROTECTION_FAILED' };
      alert(s, out, 'PROTECTION_FAILED', `${s.symbol}: protective stop refused (${answer.reason}); closing ${s.positionId} at market`);
      return;
    case 'FAILED':
      p.failures++;
      p.retryAt = now + T.protectRetryMs;
      if (now - p.startedAt >= T.protectWithinMs) {
        p.status = 'FAILED';
        s.closeRequest ??= { reason: 'PROTECTION_FAILED' };
        alert(s, out, 'PROTECTION_FAILED', `${s.symbol}: no protective stop after ${p.failures} attempts (${answer.reason}); closing ${s.positionId} at market`);
      } else if (s.closeRequest) {
        p.status = 'ABANDONED'; // closing anyway: do not hold the close up for a stop
      }
      return;
  }
}

function applyReading(s: PositionLifecycle, r: Reading, ctx: LifecycleContext, out: Out): void {
  const now = ctx.now;
  if (!Number.isFinite(r.positionAmt)) {
    s.nextReadAt = now + T.pollMs;
    return;
  }
  s.nextReadAt = now + ctx.checkEveryMs;
  const ours = s.side === 'LONG' ? r.positionAmt : -r.positionAmt;
  if (s.stage === 'ADOPTING' && ours > 0) {
    s.quantity = ours;
    s.flat = null;
    const entryPrice = s.adoption && isPlausiblePrice(s.adoption.entryPrice) ? s.adoption.entryPrice : r.markPrice;
    if (isPlausiblePrice(entryPrice)) s.entryPrice = entryPrice;
    return;
  }
  if (s.stage === 'PROTECTING') {
    if (s.entryPrice <= 0 && isPlausiblePrice(r.markPrice)) s.entryPrice = r.markPrice;
    return;
  }
  if (s.stage !== 'OPEN' && s.stage !== 'EXITING' && s.stage !== 'ADOPTING') return;
  if (ours <= qtyTolerance(s.quantity)) {
    // One empty read is not "the stop fired": a later read must agree, and a fill must explain it.
    if (!s.flat) s.flat = { firstReadAt: r.at, confirmed: false, evidenceAt: now };
    else if (r.at > s.flat.firstReadAt) s.flat.confirmed = true;
    return;
  }
  s.flat = null;
  if (ours > s.quantity + qtyTolerance(s.quantity)) s.excess = { quantity: ours };
  if (s.stage !== 'OPEN' || !s.tracker) return;
  const judged = judgeMark(s.marks, r.markPrice, s.entryPrice);
  s.marks = judged.guard;
  if (!judged.verdict.believed) {
    out.notices.push({ level: 'warn', message: `${s.symbol}: ${judged.verdict.reason}` });
    return;
  }
  s.lastMark = judged.verdict.price;
  s.lastMarkAt = now;
  const { tracker, exit } = observePrice(s.tracker, judged.verdict.price, now, ctx.rules);
  s.tracker = tracker;
  if (exit) s.exitReason ??= exit.reason;
}

function applyEvidence(s: PositionLifecycle, e: CloseEvidence, now: number, out: Out): void {
  if (!s.flat?.confirmed || s.quantity <= 0) return;
  if (e.stop && e.stop.status === 'FINISHED' && e.stop.actualOrderId !== null) {
    // The exchange-side stop fired: to the user this is the stop loss.
    s.orders.push(knownExecution(stopOrderId(s.idStem), 'STOP', e.stop.actualOrderId, s.quantity, now));
    settleFlat(s, 'STOP_LOSS');
    s.protection.status = 'FIRED';
    return;
  }
  if (e.stop && (e.stop.status === 'TRIGGERING' || e.stop.status === 'TRIGGERED')) {
    s.flat.evidenceAt = now + T.pollMs; // its fill is on the way
    return;
  }
  const ours = new Set(s.orders.map((a) => a.orderId).filter((x): x is number => x !== null));
  const known = new Set(s.books.tradeIds);
  const closing = e.closingTrades.filter((t) => t.side === exitOrderSide(s.side) && !known.has(t.tradeId) && !ours.has(t.orderId));
  if (closing.length > 0 && sum(closing.map((t) => t.qty)) + qtyTolerance(s.quantity) >= s.quantity) {
    // Closed outside the agent (by hand, or liquidated): booked from those trades, at their prices.
    const byOrder = new Map<number, FillFact[]>();
    for (const t of closing) byOrder.set(t.orderId, [...(byOrder.get(t.orderId) ?? []), t]);
    for (const [orderId, trades] of byOrder) {
      const a = knownExecution(`external-${orderId}`, 'EXTERNAL', orderId, sum(trades.map((t) => t.qty)), now);
      s.orders.push(a);
      applyFills(s, a, trades, now, out);
    }
    settleFlat(s, 'CLOSED_EXTERNALLY');
    out.notices.push({ level: 'warn', message: `${s.symbol}: ${s.positionId} was closed outside the agent; booked from the exchange's trades` });
    return;
  }
  // Nothing explains the flat reads: keep watching, the stop stays where it is.
  s.flat = null;
  s.flatStrikes++;
  if (s.flatStrikes >= T.flatStrikesBeforeAlert) {
    alert(s, out, 'FLAT_UNEXPLAINED', `${s.symbol}: ${s.positionId} reads flat with no fill to explain it (${s.flatStrikes} times); still treated as open`);
  }
}

function settleFlat(s: PositionLifecycle, reason: ExitReason): void {
  s.quantity = 0;
  s.exitReason = reason;
  s.flat = null;
  s.flatStrikes = 0;
}

function applyFills(s: PositionLifecycle, a: OrderAttempt, fills: FillFact[], now: number, out: Out): void {
  const mine = a.orderId === null ? [] : fills.filter((f) => f.orderId === a.orderId);
  const fresh = bookFills(s.books, mine, a.purpose === 'ENTRY');
  const visible = sum(mine.map((f) => f.qty));
  // The stop's and others' orders: their fills are the only measure of what executed.
  if ((a.purpose === 'STOP' || a.purpose === 'EXTERNAL') && visible > 0) a.executedQty = visible;
  a.bookedQty = visible;
  s.entryFee = s.books.entryFees;
  if (fresh.length > 0) {
    const clientOrderId = a.purpose === 'STOP' ? stopOrderId(s.idStem) : a.clientOrderId;
    out.journal.push({ kind: 'fills', fills: fresh.map((f) => ({ ...f, symbol: s.symbol, clientOrderId, positionId: s.positionId })) });
  }
  if (hasUnbookedFills(a)) return fillsNotVisible(s, a, now, out, `${a.executedQty - visible} of ${a.executedQty} not visible yet`);
  a.fillsFailures = 0;
  if (fresh.length === 0) return;
  const qty = sum(mine.map((f) => f.qty));
  const price = sum(mine.map((f) => f.price * f.qty)) / qty;
  const fee = sum(mine.map((f) => f.commission));
  if (a.purpose === 'STOP') out.journal.push({ kind: 'order', order: { ...stopRow(s, 'FILLED', now), purpose: 'EXIT', exchangeOrderId: a.orderId, avgPrice: price, executedQty: qty, quantity: qty } });
  if (a.purpose === 'EXTERNAL') return;
  const what = a.purpose === 'ENTRY' ? `${s.side} entry` : a.purpose === 'STOP' ? 'protective stop' : a.purpose === 'REDUCE' ? 'duplicate reduced' : `${s.exitReason ?? 'EXIT'} exit`;
  const side = a.purpose === 'ENTRY' ? entryOrderSide(s.side) : exitOrderSide(s.side);
  out.notices.push({
    level: 'info',
    message: `Order executed ${s.symbol} ${side} ${qty} @ ${roundPrice(price)} (${what}, fee ${fee.toFixed(4)})`,
    counter: { name: 'orders', label: a.purpose === 'ENTRY' ? 'ENTRY' : 'EXIT' },
  });
}

function fillsNotVisible(s: PositionLifecycle, a: OrderAttempt, now: number, out: Out, reason: string): void {
  a.fillsFailures++;
  a.fillsRetryAt = now + backoff(a.fillsFailures, 2 * T.pollMs);
  if (a.fillsFailures === 5) out.notices.push({ level: 'warn', message: `${s.symbol}: fills of ${a.clientOrderId} still not readable (${reason}); retrying` });
}

function applyStopCancelled(s: PositionLifecycle, fact: Extract<LifecycleFact, { kind: 'STOP_CANCELLED' }>, now: number, out: Out): void {
  const p = s.protection;
  if (p.status !== 'PLACED') return;
  if (fact.outcome === 'GONE') {
    p.status = 'CANCELLED';
    out.journal.push({ kind: 'order', order: stopRow(s, 'CANCELED', now) });
  } else if (fact.outcome === 'FIRED' && fact.actualOrderId !== null) {
    // The stop fired while the position was being closed: its fill is part of the exit.
    p.status = 'FIRED';
    s.orders.push(knownExecution(stopOrderId(s.idStem), 'STOP', fact.actualOrderId, Math.max(s.quantity, qtyTolerance(1) * 2), now));
    s.quantity = 0;
  } else {
    p.failures++;
    p.retryAt = now + backoff(p.failures);
  }
}

function stopRow(s: PositionLifecycle, status: string, now: number): JournalOrder {
  return {
    clientOrderId: stopOrderId(s.idStem),
    symbol: s.symbol,
    positionId: s.positionId,
    purpose: 'PROTECTIVE_STOP',
    side: exitOrderSide(s.side),
    type: 'STOP_MARKET',
    quantity: 0,
    status,
    exchangeOrderId: null,
    avgPrice: s.stopPrice ?? 0,
    executedQty: 0,
    reduceOnly: true,
    updatedAt: now,
  };
}

function alert(s: PositionLifecycle, out: Out, kind: string, message: string): void {
  if (s.alerted.includes(kind)) return;
  s.alerted.push(kind);
  out.notices.push({ level: 'error', message, counter: { name: 'alerts', label: kind } });
  out.journal.push({ kind: 'riskEvent', key: `${s.positionId}:${kind}`, event: kind, symbol: s.symbol, detail: { positionId: s.positionId, message } });
}

const roundPrice = (p: number): number => Number(p.toPrecision(10));

// ---- transitions ---------------------------------------------------------------------------------------

function advance(s: PositionLifecycle, ctx: LifecycleContext, out: Out): void {
  const now = ctx.now;
  if (s.stage === 'ENTERING') advanceEntering(s, now, out);
  if (s.stage === 'ADOPTING') {
    if (s.quantity > 0 && s.entryPrice > 0) toProtecting(s, now);
    else if (s.flat?.confirmed) fail(s, 'no exchange position to adopt', out);
  }
  if (s.stage === 'PROTECTING') {
    if (s.stopPrice === null) setLevels(s, ctx, now);
    if (s.protection.status !== 'NONE') s.stage = 'OPEN';
  }
  if (s.stage === 'OPEN') {
    if (s.closeRequest || s.exitReason) {
      s.stage = 'EXITING';
      s.exitReason ??= s.closeRequest!.reason;
    } else reduceDuplicate(s, now, out);
  }
  syncEntryJournal(s, out);
  if (s.stage === 'EXITING') advanceExiting(s, now, out);
}

function advanceEntering(s: PositionLifecycle, now: number, out: Out): void {
  const entries = ofPurpose(s, 'ENTRY');
  if (entries.some((a) => a.executedQty > 0)) return toProtecting(s, now);
  if (entries.some(isUnresolved)) return;
  const last = entries[entries.length - 1];
  if (s.closeRequest) return fail(s, last ? `close requested; ${whyNoFill(last)}` : 'close requested before the entry was sent', out);
  if (!last) {
    s.orders.push(newAttempt(entryOrderId(s.idStem, 1), 'ENTRY', now, T.sendWindowMs));
    return;
  }
  if (last.status === 'NOT_SENT' && entries.length < T.maxEntrySends && now < s.entryDeadline) {
    if (now >= s.entryRetryAt) s.orders.push(newAttempt(entryOrderId(s.idStem, entries.length + 1), 'ENTRY', now, T.sendWindowMs));
    return;
  }
  fail(s, whyNoFill(last), out);
}

function whyNoFill(a: OrderAttempt): string {
  switch (a.status) {
    case 'REFUSED':
      return `refused: ${a.detail}`;
    case 'NOT_SENT':
      return `not sent: ${a.detail}`;
    case 'ABSENT':
      return `the exchange never showed order ${a.clientOrderId}`;
    default:
      return `entry order ${a.clientOrderId} ended with nothing filled`;
  }
}

function fail(s: PositionLifecycle, detail: string, out: Out): void {
  const venueTimes = s.orders.map((a) => a.venueTime).filter((t): t is number => t !== null);
  s.stage = 'CLOSED';
  s.result = { outcome: 'ENTRY_FAILED', exitReason: null, netPnl: 0, venueTime: venueTimes.length ? Math.max(...venueTimes) : null, detail };
  out.notices.push({ level: 'warn', message: `Entry failed ${s.symbol} ${s.side}: ${detail}`, counter: { name: 'positionsClosed', label: 'ENTRY_FAILED' } });
}

function toProtecting(s: PositionLifecycle, now: number): void {
  s.stage = 'PROTECTING';
  s.openedAt ||= now;
  s.protection.startedAt = now;
  s.protection.retryAt = now;
  const vwap = executedVwap(ofPurpose(s, 'ENTRY'));
  if (vwap > 0) s.entryPrice = vwap;
  else if (s.entryPrice <= 0 && s.referencePrice !== null) s.entryPrice = s.referencePrice;
}

/** Exit levels from the entry price, once there is a plausible one. */
function setLevels(s: PositionLifecycle, ctx: LifecycleContext, now: number): void {
  if (!isPlausiblePrice(s.entryPrice)) return;
  const levels = exitLevels(s.side, s.entryPrice, ctx.rules);
  s.stopPrice = levels.stopLoss;
  s.takeProfitPrice = levels.takeProfit;
  s.tracker = newTracker(s.side, s.entryPrice, s.openedAt || now);
}

/**
 * More executed on the entry id stem than one order asked for means a second entry got through: it is this
 * position's exposure, and the surplus is reduced at once (reduce-only).
 */
function reduceDuplicate(s: PositionLifecycle, now: number, out: Out): void {
  const entries = ofPurpose(s, 'ENTRY');
  const reduces = ofPurpose(s, 'REDUCE');
  if (reduces.some(exitInProgress) || now < s.exitRetryAt) return;
  const executed = sum(entries.map((a) => a.executedQty));
  const intended = Math.max(0, ...entries.map((a) => a.origQty));
  const surplus = executed - intended - sum(reduces.map((a) => a.executedQty));
  if (intended <= 0 || surplus <= qtyTolerance(intended)) return;
  alert(s, out, 'DUPLICATE_ENTRY', `${s.symbol}: ${executed} executed on ${s.idStem} entries for an order of ${intended}; reducing ${surplus}`);
  s.orders.push(newAttempt(reduceOrderId(s.idStem, reduces.length + 1), 'REDUCE', now, T.sendWindowMs, surplus));
}

function advanceExiting(s: PositionLifecycle, now: number, out: Out): void {
  if (s.quantity > 0) {
    if (s.flat) return; // first find out whether it is flat, and why
    const exits = ofPurpose(s, 'EXIT');
    if (exits.some(exitInProgress) || now < s.exitRetryAt) return;
    s.orders.push(newAttempt(exitOrderId(s.idStem, exits.length + 1), 'EXIT', now, T.sendWindowMs));
    return;
  }
  // Nothing left on the exchange, and we know why. Wind down: every entry resolved, the stop gone,
  // every fill booked; only then is the position closed in the books.
  if (ofPurpose(s, 'ENTRY').some(isUnresolved)) return;
  if (s.protection.status === 'PLACED') return;
  if (s.orders.some(hasUnbookedFills)) return;
  close(s, now, out);
}

function close(s: PositionLifecycle, now: number, out: Out): void {
  const b = s.books;
  const netPnl = b.realizedPnl - b.fees;
  const exitPrice = b.closeQty > 0 ? b.closeQuote / b.closeQty : 0;
  const reason = s.exitReason ?? 'MANUAL';
  s.stage = 'CLOSED';
  s.result = { outcome: 'CLOSED', exitReason: reason, netPnl, venueTime: b.lastCloseTime };
  out.journal.push({
    kind: 'close',
    close: { positionId: s.positionId, exitPrice, exitReason: reason, exitFee: b.fees - b.entryFees, grossPnl: b.realizedPnl, netPnl, closedAt: b.lastCloseTime ?? now },
  });
  out.notices.push({
    level: 'info',
    message: `Position closed ${s.symbol} ${s.side} ${reason} @ ${roundPrice(exitPrice)} net=${netPnl.toFixed(4)}`,
    counter: { name: 'positionsClosed', label: reason },
  });
}

/** Keep the journal's position row equal to the exchange's facts (written once protection is settled). */
function syncEntryJournal(s: PositionLifecycle, out: Out): void {
  if (s.stage === 'ENTERING' || s.stage === 'ADOPTING' || s.stage === 'PROTECTING' || s.result?.outcome === 'ENTRY_FAILED') return;
  const entries = ofPurpose(s, 'ENTRY');
  const executed = s.adoption ? (s.journaledEntry?.quantity ?? s.quantity) : sum(entries.map((a) => a.executedQty)) - sum(ofPurpose(s, 'REDUCE').map((a) => a.executedQty));
  if (executed <= 0) return;
  const booked = s.books.entryQty > 0 && s.books.entryQty + qtyTolerance(s.books.entryQty) >= sum(entries.map((a) => a.executedQty));
  const entryPrice = s.adoption ? s.entryPrice : booked ? s.books.entryQuote / s.books.entryQty : executedVwap(entries) || s.entryPrice;
  const row = { quantity: executed, entryPrice, entryFee: s.books.entryFees };
  const j = s.journaledEntry;
  if (j && j.quantity === row.quantity && j.entryPrice === row.entryPrice && j.entryFee === row.entryFee) return;
  out.journal.push({
    kind: 'entry',
    ifAbsent: s.adoption !== null,
    entry: {
      positionId: s.positionId,
      workflowId: s.workflowId,
      symbol: s.symbol,
      side: s.side,
      ...row,
      openedAt: s.openedVenueTime ?? s.protection.venueTime ?? s.openedAt,
      stopPrice: s.stopPrice,
      takeProfitPrice: s.takeProfitPrice,
    },
  });
  s.journaledEntry = row;
}

// ---- what to do next -----------------------------------------------------------------------------------

function plan(s: PositionLifecycle, ctx: LifecycleContext): LifecycleCommand {
  const now = ctx.now;
  if (s.stage === 'CLOSED') return { kind: 'DONE' };
  const sending = s.orders.find((a) => a.status === 'SENDING');
  if (sending) {
    return sending.purpose === 'ENTRY'
      ? { kind: 'SEND_ENTRY', clientOrderId: sending.clientOrderId, sendBefore: sending.sendBefore, notional: s.notional }
      : { kind: 'SEND_EXIT', clientOrderId: sending.clientOrderId, sendBefore: sending.sendBefore, quantity: sending.quantity };
  }

  // Protection comes first: nothing else (not even booking fills) runs before the stop is settled.
  if (s.stage === 'PROTECTING') {
    if (s.stopPrice === null) return { kind: 'READ', after: null };
    const at = s.protection.retryAt;
    return at <= now ? { kind: 'PLACE_STOP', clientAlgoId: stopOrderId(s.idStem), triggerPrice: s.stopPrice } : { kind: 'WAIT', until: at };
  }

  // Candidates in priority order, each with the time it is due; the first one due runs.
  const due: { at: number; command: LifecycleCommand }[] = [];
  const add = (at: number, command: LifecycleCommand) => due.push({ at, command });

  // Whether the position is flat decides everything else: confirm with a fresh read, then look for why.
  const ownUnknown = s.orders.some((a) => a.purpose !== 'ENTRY' && a.status === 'UNKNOWN');
  if (s.flat && (s.quantity > 0 || s.stage === 'ADOPTING')) {
    if (!s.flat.confirmed) add(now, { kind: 'READ', after: s.flat.firstReadAt });
    else if (s.stage !== 'ADOPTING' && !ownUnknown) add(s.flat.evidenceAt, { kind: 'GATHER_EVIDENCE', clientAlgoId: stopOrderId(s.idStem), since: s.openedVenueTime ?? s.protection.venueTime });
  }
  // Orders that may still execute: look them up, and cancel the ones live too long.
  const pending = s.orders.filter((a) => a.status === 'UNKNOWN' || a.status === 'LIVE');
  for (const a of pending) {
    if (a.status !== 'LIVE' || a.cancelAt !== null) continue;
    // A close request does not wait for an entry that has not filled anything yet.
    const unwanted = s.closeRequest !== null && a.purpose === 'ENTRY' && a.executedQty === 0;
    if (unwanted || now - (a.liveSince ?? now) >= T.liveOrderWaitMs) add(now, { kind: 'CANCEL_ORDER', clientOrderId: a.clientOrderId });
  }
  if (pending.length > 0) {
    const lookupAt = Math.min(...pending.map((a) => a.lastLookupAt + (a.status === 'LIVE' && a.cancelAt !== null ? ctx.checkEveryMs : T.pollMs)));
    add(lookupAt, { kind: 'LOOKUP', clientOrderIds: pending.map((a) => a.clientOrderId) });
  }
  if (s.excess) {
    const ids = ofPurpose(s, 'ENTRY').filter((a) => a.status !== 'NOT_SENT' && a.status !== 'REFUSED').map((a) => a.clientOrderId);
    add(now, { kind: 'LOOKUP', clientOrderIds: ids });
  }
  if (s.stage === 'EXITING' && s.quantity === 0 && s.protection.status === 'PLACED') add(s.protection.retryAt, { kind: 'CANCEL_STOP', clientAlgoId: stopOrderId(s.idStem) });
  for (const a of s.orders) if (hasUnbookedFills(a) && a.orderId !== null) add(a.fillsRetryAt, { kind: 'FETCH_FILLS', clientOrderId: a.clientOrderId, orderId: a.orderId });
  if (s.stage === 'OPEN' || (s.stage === 'ADOPTING' && !s.flat)) add(s.nextReadAt, { kind: 'READ', after: null });

  const ready = due.find((d) => d.at <= now);
  if (ready) return ready.command;
  // Nothing due: sleep until the first thing is, or until a retry of entry / exit may be created.
  const timers = [...due.map((d) => d.at), s.stage === 'ENTERING' ? s.entryRetryAt : Infinity, s.stage === 'EXITING' || s.stage === 'OPEN' ? s.exitRetryAt : Infinity];
  const until = Math.min(...timers.filter((t) => t > now));
  return { kind: 'WAIT', until: Number.isFinite(until) ? until : now + ctx.checkEveryMs };
}
