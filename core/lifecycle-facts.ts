import { step as stepPosition } from './position.js';
import { isPlausiblePrice, judgeMark } from './mark-sanity.js';
import { bookFills, hasUnbookedFills, knownExecution, newAttempt, observeOrder, qtyTolerance, type FillFact, type OrderAttempt, type OrderFact } from './position-orders.js';
import { entryOrderSide, exitOrderSide, type ExitReason } from './types.js';
import {
  T,
  backoff,
  fenceEnd,
  isFlatQty,
  stopOrderId,
  stopMayBeOn,
  sum,
  type CloseEvidence,
  type JournalOrder,
  type LifecycleContext,
  type LifecycleFact,
  type Notice,
  type JournalWrite,
  type OrderAnswer,
  type PositionLifecycle,
  type Reading,
  type StopAnswer,
} from './lifecycle-model.js';

/** Applying one fact to the lifecycle's state: what the exchange said, a request, or time passing. */

export interface Out {
  journal: JournalWrite[];
  notices: Notice[];
}

export function apply(s: PositionLifecycle, fact: LifecycleFact, ctx: LifecycleContext, out: Out): void {
  const now = ctx.now;
  const find = (id: string) => s.orders.find((a) => a.clientOrderId === id);
  switch (fact.kind) {
    case 'WOKE':
      return;
    case 'CLOSE_REQUESTED':
      if (s.stage === 'CLOSED') return;
      s.closeRequest ??= { reason: fact.reason };
      // Requests arrive between commands, so an entry still SENDING was planned but never sent: it never will be.
      s.orders = s.orders.filter((a) => !(a.purpose === 'ENTRY' && a.status === 'SENDING'));
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
    case 'STREAM_MARK':
      if (s.stage !== 'OPEN' || !s.tracker || s.flat) return;
      return observeMark(s, fact.price, ctx, out, fact.bestPrice);
    case 'STREAM_EXIT':
      return applyStreamExit(s, fact, ctx, out);
    case 'STREAM_LOST':
      s.nextReadAt = Math.min(s.nextReadAt, now);
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
      p.fenceUntil = now + T.sendWindowMs + T.acceptWindowMs;
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
    s.nextReadAt = now + T.pollMs;
    return;
  }
  if (s.stage !== 'OPEN' && s.stage !== 'EXITING' && s.stage !== 'ADOPTING') return;
  if (ours <= qtyTolerance(s.quantity)) {
    // One empty read is not "the stop fired": a later read must agree, and a fill must explain it.
    if (!s.flat) s.flat = { firstReadAt: r.at, confirmed: false, evidenceAt: now };
    else if (r.at > s.flat.firstReadAt) s.flat.confirmed = true;
    // Flat for sure: the stream's watch may have sent the armed exit and its report be lost (a worker died
    // between the two), so the id is looked up before anything else explains it.
    if (s.flat.confirmed && s.armedExit) armedExitMayHaveGone(s, s.armedExit, now);
    return;
  }
  s.flat = null;
  if (ours > s.quantity + qtyTolerance(s.quantity)) s.excess = { quantity: ours };
  if (s.stage !== 'OPEN' || !s.tracker) return;
  observeMark(s, r.markPrice, ctx, out, null);
}

function applyStreamExit(s: PositionLifecycle, fact: Extract<LifecycleFact, { kind: 'STREAM_EXIT' }>, ctx: LifecycleContext, out: Out): void {
  // Known already when the position's own exit took the same id, or a flat read had it looked up.
  const known = s.orders.some((a) => a.clientOrderId === fact.clientOrderId);
  // Never armed (a report that does not belong to this position's watch): nothing of ours was sent.
  if (!known && (s.armedExit !== fact.clientOrderId || s.stage === 'CLOSED')) return;
  if (s.stage === 'OPEN') {
    if (s.tracker && !s.flat) observeMark(s, fact.price, ctx, out, fact.bestPrice);
    s.exitReason ??= fact.reason;
  }
  // SENDING: the next command is this exit's send, which looks the id up first and sends only if it is not there.
  if (!known) s.orders.push(newAttempt(fact.clientOrderId, 'EXIT', ctx.now, T.sendWindowMs));
  s.armedExit = null;
}

/** The armed exit may be on the exchange: an attempt of unknown outcome, looked up at once. */
function armedExitMayHaveGone(s: PositionLifecycle, clientOrderId: string, now: number): void {
  s.armedExit = null;
  if (s.orders.some((a) => a.clientOrderId === clientOrderId)) return;
  // Its fence covers a send the watch began before it was disarmed (the watch's own window is no longer).
  s.orders.push({ ...newAttempt(clientOrderId, 'EXIT', now, T.sendWindowMs), status: 'UNKNOWN', lastLookupAt: now - T.pollMs });
}

/**
 * One mark seen by an open position (read over REST or from the stream): believed only under the bad-print
 * rules, then stepped through the exit rules. `streamBest`: the best price the stream's watcher believed,
 * counted for the trailing stop only when this mark is believed too.
 */
function observeMark(s: PositionLifecycle, mark: number, ctx: LifecycleContext, out: Out, streamBest: number | null): void {
  const now = ctx.now;
  const judged = judgeMark(s.marks, mark, s.entryPrice);
  s.marks = judged.guard;
  if (!judged.verdict.believed) {
    out.notices.push({ level: 'warn', message: `${s.symbol}: ${judged.verdict.reason}` });
    return;
  }
  s.lastMark = judged.verdict.price;
  s.lastMarkAt = now;
  let tracker = s.tracker!;
  if (streamBest !== null && isPlausiblePrice(streamBest) && (tracker.side === 'LONG' ? streamBest > tracker.bestPrice : streamBest < tracker.bestPrice)) {
    tracker = { ...tracker, bestPrice: streamBest };
  }
  const { state: next, commands } = stepPosition(tracker, judged.verdict.price, now, ctx.rules);
  s.tracker = next;
  const exit = commands[0];
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
  if (!stopMayBeOn(s)) return;
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

export function alert(s: PositionLifecycle, out: Out, kind: string, message: string): void {
  if (s.alerted.includes(kind)) return;
  s.alerted.push(kind);
  out.notices.push({ level: 'error', message, counter: { name: 'alerts', label: kind } });
  out.journal.push({ kind: 'riskEvent', key: `${s.positionId}:${kind}`, event: kind, symbol: s.symbol, detail: { positionId: s.positionId, message } });
}

export const roundPrice = (p: number): number => Number(p.toPrecision(10));
