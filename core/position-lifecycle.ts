import type { ExitTracker } from './exits.js';
import type { PositionSide } from './types.js';
import { NEW_MARK_GUARD } from './mark-sanity.js';
import { EMPTY_BOOKS, knownExecution, newAttempt } from './position-orders.js';
import { apply, type Out } from './lifecycle-facts.js';
import { LIFECYCLE_TIMING, entryOrderId, exitInProgress, exitOrderId, ofPurpose, type CloseReason, type LifecycleContext, type LifecycleFact, type PositionLifecycle, type StepOutput } from './lifecycle-model.js';
import { advance, plan } from './lifecycle-plan.js';

export * from './lifecycle-model.js';

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
 * - In event-driven mode the next exit is armed (armStreamExit): the worker's stream watch may send it under
 *   its id the moment a mark crosses a level, so the exit does not wait for a workflow task. The position
 *   then learns of it from the watch's report (STREAM_EXIT), or looks the id up when it reads flat; either
 *   way it is this position's exit attempt like any other, and the send that confirms it looks the id up first.
 */

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
    protection: { status: 'NONE', startedAt: 0, retryAt: now, failures: 0, venueTime: null, fenceUntil: 0 },
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
    // Its entry's exchange time is not known: trades after its workflow's open time are the evidence (on a
    // replaying paper exchange none are, so a close by hand is alerted on rather than guessed).
    openedVenueTime: id.openedAt,
    protection: { status: closeRequest?.reason === 'PROTECTION_FAILED' ? 'FAILED' : 'PLACED', startedAt: now, retryAt: now, failures: 0, venueTime: null, fenceUntil: 0 },
    stopPrice: id.stopPrice,
    takeProfitPrice: id.takeProfitPrice,
    tracker: id.tracker,
    closeRequest,
  });
  s.books = { ...s.books, entryQty: id.quantity, entryQuote: id.quantity * id.entryPrice, entryFees: id.entryFee, fees: id.entryFee };
  s.journaledEntry = { quantity: id.quantity, entryPrice: id.entryPrice, entryFee: id.entryFee };
  return s;
}

/** What the stream watch may send by itself: the position's next exit, reduce-only, for what it holds. */
export interface ArmedExit {
  clientOrderId: string;
  quantity: number;
}

/**
 * Arms (or keeps armed) the next exit for the stream watch while the position is OPEN with nothing in the
 * way: no confirmed flat read being explained, no exit or reduction under way. `armed` is what the watch may send now
 * (null: the watch must not send). Once armed, the id stays in `armedExit` until it is one of the position's
 * attempts, because a watch may have sent it before it was disarmed.
 */
export function armStreamExit(s: PositionLifecycle): { state: PositionLifecycle; armed: ArmedExit | null } {
  const busy = s.orders.some((a) => (a.purpose === 'EXIT' || a.purpose === 'REDUCE') && exitInProgress(a));
  // Armed through an unconfirmed flat read (often a read from before the fill): if it was real, a reduce-only
  // exit is refused; if not, the exit is not held back until a second read.
  const armable = s.stage === 'OPEN' && s.tracker !== null && !s.flat?.confirmed && s.quantity > 0 && !busy && !s.closeRequest && !s.exitReason;
  const remembered = s.armedExit && !s.orders.some((a) => a.clientOrderId === s.armedExit) ? s.armedExit : null;
  const armedExit = armable ? exitOrderId(s.idStem, ofPurpose(s, 'EXIT').length + 1) : remembered;
  const state = (s.armedExit ?? null) === armedExit ? s : { ...s, armedExit };
  return { state, armed: armable && armedExit ? { clientOrderId: armedExit, quantity: s.quantity } : null };
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
