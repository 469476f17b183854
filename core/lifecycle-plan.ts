import { exitLevels, newTracker } from './exits.js';
import { step as stepPosition } from './position.js';
import type { ExitReason } from './types.js';
import { isPlausiblePrice } from './mark-sanity.js';
import { executedVwap, hasUnbookedFills, isUnresolved, newAttempt, qtyTolerance, type OrderAttempt } from './position-orders.js';
import { alert, roundPrice, type Out } from './lifecycle-facts.js';
import {
  T,
  entryOrderId,
  exitInProgress,
  exitOrderId,
  ofPurpose,
  reduceOrderId,
  stopMayBeOn,
  stopOrderId,
  sum,
  type LifecycleCommand,
  type LifecycleContext,
  type PositionLifecycle,
} from './lifecycle-model.js';

/** The transitions the facts allow, and the one command to run next. */

// ---- transitions ---------------------------------------------------------------------------------------

export function advance(s: PositionLifecycle, ctx: LifecycleContext, out: Out): void {
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
    // The armed exit executed and its report was lost: the exit is the one its fill price reached.
    if (!s.exitReason && !s.closeRequest && ofPurpose(s, 'EXIT').some((a) => a.executedQty > 0)) s.exitReason = exitReasonAtFill(s, ctx);
    if (s.closeRequest || s.exitReason) {
      s.stage = 'EXITING';
      s.exitReason ??= s.closeRequest!.reason;
    } else reduceDuplicate(s, now, out);
  }
  syncEntryJournal(s, out);
  if (s.stage === 'EXITING') advanceExiting(s, now, out);
}

function exitReasonAtFill(s: PositionLifecycle, ctx: LifecycleContext): ExitReason {
  const exits = ofPurpose(s, 'EXIT').filter((a) => a.executedQty > 0);
  const price = exits.reduce((q, a) => q + a.avgPrice * a.executedQty, 0) / sum(exits.map((a) => a.executedQty));
  const fired = s.tracker ? stepPosition(s.tracker, price, ctx.now, ctx.rules).commands[0] : undefined;
  if (fired) return fired.reason;
  const gained = s.side === 'LONG' ? price > s.entryPrice : price < s.entryPrice;
  return gained ? 'TRAILING_STOP' : 'STOP_LOSS';
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
  if (stopMayBeOn(s)) return;
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

export function plan(s: PositionLifecycle, ctx: LifecycleContext): LifecycleCommand {
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
    // Without a price to set the stop from (an execution reported without one), read the mark first.
    if (s.stopPrice === null) return s.nextReadAt <= now ? { kind: 'READ', after: null } : { kind: 'WAIT', until: s.nextReadAt };
    const at = s.protection.retryAt;
    return at <= now ? { kind: 'PLACE_STOP', clientAlgoId: stopOrderId(s.idStem), triggerPrice: s.stopPrice, sendBefore: now + T.sendWindowMs } : { kind: 'WAIT', until: at };
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
  if (s.stage === 'EXITING' && s.quantity === 0 && stopMayBeOn(s)) {
    // A stop request that failed may still land until its fence: cancel after that, or a stray stop stays.
    const at = s.protection.status === 'PLACED' ? s.protection.retryAt : Math.max(s.protection.retryAt, s.protection.fenceUntil);
    add(at, { kind: 'CANCEL_STOP', clientAlgoId: stopOrderId(s.idStem) });
  }
  for (const a of s.orders) if (hasUnbookedFills(a) && a.orderId !== null) add(a.fillsRetryAt, { kind: 'FETCH_FILLS', clientOrderId: a.clientOrderId, orderId: a.orderId });
  if (s.stage === 'OPEN' || (s.stage === 'ADOPTING' && !s.flat)) add(s.nextReadAt, { kind: 'READ', after: null });

  const ready = due.find((d) => d.at <= now);
  if (ready) return ready.command;
  // Nothing due: sleep until the first thing is, or until a retry of entry / exit may be created.
  const timers = [...due.map((d) => d.at), s.stage === 'ENTERING' ? s.entryRetryAt : Infinity, s.stage === 'EXITING' || s.stage === 'OPEN' ? s.exitRetryAt : Infinity];
  const until = Math.min(...timers.filter((t) => t > now));
  return { kind: 'WAIT', until: Number.isFinite(until) ? until : now + ctx.checkEveryMs };
}
