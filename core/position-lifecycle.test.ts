import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS } from './params.js';
import {
  LIFECYCLE_TIMING as T,
  armStreamExit,
  newAdoption,
  newEntry,
  resumedPosition,
  step,
  type JournalWrite,
  type LifecycleCommand,
  type LifecycleFact,
  type Notice,
  type PositionLifecycle,
} from './position-lifecycle.js';
import type { FillFact, OrderFact } from './position-orders.js';
import { newTracker } from './exits.js';

const T0 = 1_700_000_000_000;
const CHECK_MS = 5_000;
const id = { positionId: 'BTCUSDT-a-1', workflowId: 'qt-position-BTCUSDT-a-1', symbol: 'BTCUSDT', side: 'LONG' as const, idStem: 'qt-a-1' };

/** Drives the machine like the workflow does: one fact in, one command out, writes and notices collected. */
class Driver {
  now = T0;
  command: LifecycleCommand;
  journal: JournalWrite[] = [];
  notices: Notice[] = [];
  constructor(public s: PositionLifecycle) {
    this.command = this.feed({ kind: 'WOKE' });
  }
  feed(fact: LifecycleFact, afterMs = 0): LifecycleCommand {
    this.now += afterMs;
    const out = step(this.s, fact, { now: this.now, rules: DEFAULT_PARAMS, checkEveryMs: CHECK_MS });
    this.s = out.state;
    this.journal.push(...out.journal);
    this.notices.push(...out.notices);
    this.command = out.command;
    return out.command;
  }
  /** Let time pass to the command's wait (or by ms) and wake. */
  wait(ms?: number): LifecycleCommand {
    const c = this.command;
    const dt = ms ?? (c.kind === 'WAIT' ? c.until - this.now : 0);
    return this.feed({ kind: 'WOKE' }, dt);
  }
  answer(order: Partial<OrderFact>, extra: { referencePrice?: number } = {}): LifecycleCommand {
    const c = this.command as Extract<LifecycleCommand, { kind: 'SEND_ENTRY' | 'SEND_EXIT' }>;
    return this.feed({ kind: 'ORDER_ANSWER', clientOrderId: c.clientOrderId, answer: { outcome: 'ORDER', order: orderFact(c.clientOrderId, order), ...extra } });
  }
  reading(positionAmt: number, markPrice: number, afterMs = 0): LifecycleCommand {
    return this.feed({ kind: 'READING', reading: { at: this.now + afterMs, positionAmt, markPrice } }, afterMs);
  }
  kinds(): string[] {
    return this.journal.map((w) => w.kind);
  }
}

function orderFact(clientOrderId: string, o: Partial<OrderFact> = {}): OrderFact {
  return { clientOrderId, orderId: 11, side: 'BUY', status: 'FILLED', origQty: 1, executedQty: 1, avgPrice: 100, updateTime: T0, ...o };
}

function fill(orderId: number, o: Partial<FillFact> = {}): FillFact {
  return { tradeId: orderId * 10, orderId, side: 'BUY', price: 100, qty: 1, quoteQty: 100, commission: 0.05, commissionAsset: 'USDT', realizedPnl: 0, time: T0, ...o };
}

/** An entry filled at 100 with its stop placed and its fills booked: OPEN, the usual starting point. */
function openPosition(): Driver {
  const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
  d.answer({});
  d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'PLACED', venueTime: T0 } });
  expect(d.command).toMatchObject({ kind: 'FETCH_FILLS', clientOrderId: 'qt-a-1-E', orderId: 11 });
  d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-E', fills: [fill(11)] });
  expect(d.s.stage).toBe('OPEN');
  return d;
}

/** Take an OPEN position through a filled exit to CLOSED. */
function exitFilled(d: Driver, price: number): void {
  expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: expect.stringMatching(/-X\d+$/) });
  d.answer({ orderId: 12, side: 'SELL', avgPrice: price });
  expect(d.command).toEqual({ kind: 'CANCEL_STOP', clientAlgoId: 'qt-a-1-S' });
  d.feed({ kind: 'STOP_CANCELLED', outcome: 'GONE', actualOrderId: null });
  expect(d.command).toMatchObject({ kind: 'FETCH_FILLS', orderId: 12 });
  d.feed({ kind: 'FILLS', clientOrderId: (d.s.orders.find((a) => a.orderId === 12)!).clientOrderId, fills: [fill(12, { side: 'SELL', price, realizedPnl: price - 100, commission: 0.06 })] });
}

describe('entering', () => {
  it('sends the entry under the stem\'s -E id with a send window', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    expect(d.s.stage).toBe('ENTERING');
    expect(d.command).toEqual({ kind: 'SEND_ENTRY', clientOrderId: 'qt-a-1-E', sendBefore: T0 + T.sendWindowMs, notional: 100 });
  });

  it('a fill goes straight to protection: the stop is the next command, at the stop-loss level', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({});
    expect(d.s.stage).toBe('PROTECTING');
    expect(d.s.quantity).toBe(1);
    expect(d.command).toEqual({ kind: 'PLACE_STOP', clientAlgoId: 'qt-a-1-S', triggerPrice: 99, sendBefore: d.now + T.sendWindowMs });
    // Only the order row so far, and the workflow holds it until protection is settled.
    expect(d.kinds()).toEqual(['order']);
  });

  it.each([
    ['PARTIALLY_FILLED', 0.4],
    ['EXPIRED', 0.4],
    ['NEW', 0.25],
  ] as const)('a %s entry with a partial fill is owned and protected, never ENTRY_FAILED', (status, executedQty) => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({ status, executedQty });
    expect(d.s.stage).toBe('PROTECTING');
    expect(d.s.quantity).toBe(executedQty);
    expect(d.command.kind).toBe('PLACE_STOP');
  });

  it('a live partial entry keeps being looked up; later fills are owned; the remainder is cancelled after the wait', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({ status: 'PARTIALLY_FILLED', executedQty: 0.4 });
    d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'PLACED', venueTime: T0 } });
    expect(d.s.stage).toBe('OPEN');
    d.feed({ kind: 'ORDERS_SEEN', at: d.now + 1000, orders: { 'qt-a-1-E': orderFact('qt-a-1-E', { status: 'PARTIALLY_FILLED', executedQty: 0.7 }) } }, 1000);
    expect(d.s.quantity).toBeCloseTo(0.7, 12);
    d.now += T.liveOrderWaitMs;
    expect(d.feed({ kind: 'WOKE' })).toEqual({ kind: 'CANCEL_ORDER', clientOrderId: 'qt-a-1-E' });
    d.feed({ kind: 'CANCEL_ANSWER', clientOrderId: 'qt-a-1-E', order: orderFact('qt-a-1-E', { status: 'CANCELED', executedQty: 0.7 }) });
    expect(d.s.orders[0]!.status).toBe('FINAL');
    expect(d.s.quantity).toBeCloseTo(0.7, 12);
  });

  it('an entry that is NEW with nothing filled is polled, and owned once it fills', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({ status: 'NEW', executedQty: 0, avgPrice: 0 });
    expect(d.s.stage).toBe('ENTERING');
    expect(d.command).toMatchObject({ kind: 'WAIT' });
    expect(d.wait()).toEqual({ kind: 'LOOKUP', clientOrderIds: ['qt-a-1-E'] });
    d.feed({ kind: 'ORDERS_SEEN', at: d.now, orders: { 'qt-a-1-E': orderFact('qt-a-1-E') } });
    expect(d.s.stage).toBe('PROTECTING');
  });

  it('ends ENTRY_FAILED on a final status with nothing executed', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({ status: 'EXPIRED', executedQty: 0, avgPrice: 0 });
    expect(d.s.stage).toBe('CLOSED');
    expect(d.s.result).toMatchObject({ outcome: 'ENTRY_FAILED', netPnl: 0, venueTime: T0 });
    expect(d.command).toEqual({ kind: 'DONE' });
    expect(d.notices.at(-1)).toMatchObject({ counter: { name: 'positionsClosed', label: 'ENTRY_FAILED' } });
  });

  it('a refused entry is ENTRY_FAILED and never resent', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.feed({ kind: 'ORDER_ANSWER', clientOrderId: 'qt-a-1-E', answer: { outcome: 'REFUSED', reason: '-2019 Margin is insufficient.', code: -2019 } });
    expect(d.s.result).toMatchObject({ outcome: 'ENTRY_FAILED', detail: 'refused: -2019 Margin is insufficient.' });
    expect(d.s.orders).toHaveLength(1);
  });

  it('an entry known not sent is retried under the next id after the wait, up to the limit', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    const notSent = (cid: string) => d.feed({ kind: 'ORDER_ANSWER', clientOrderId: cid, answer: { outcome: 'NOT_SENT', reason: 'rate limited', retryAfterMs: 2_000 } });
    expect(notSent('qt-a-1-E')).toEqual({ kind: 'WAIT', until: T0 + 2_000 });
    expect(d.wait()).toMatchObject({ kind: 'SEND_ENTRY', clientOrderId: 'qt-a-1-E2' });
    notSent('qt-a-1-E2');
    expect(d.wait()).toMatchObject({ kind: 'SEND_ENTRY', clientOrderId: 'qt-a-1-E3' });
    notSent('qt-a-1-E3');
    expect(d.s.result).toMatchObject({ outcome: 'ENTRY_FAILED', detail: 'not sent: rate limited' });
  });

  it('an unknown outcome is never resent: it is looked up until it can no longer appear', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.feed({ kind: 'ORDER_ANSWER', clientOrderId: 'qt-a-1-E', answer: { outcome: 'UNKNOWN', reason: 'socket hang up', referencePrice: 100 } });
    const fence = T0 + T.sendWindowMs + T.acceptWindowMs + T.lateExecutionWatchMs;
    for (let t = T0 + 1000; t < fence; t += 5000) {
      d.now = t;
      expect(d.feed({ kind: 'ORDERS_SEEN', at: t, orders: { 'qt-a-1-E': null } })).toMatchObject({ kind: 'WAIT' });
      expect(d.s.stage).toBe('ENTERING');
      expect(d.wait()).toEqual({ kind: 'LOOKUP', clientOrderIds: ['qt-a-1-E'] });
    }
    expect(d.s.orders.map((a) => a.clientOrderId)).toEqual(['qt-a-1-E']);
    d.now = fence;
    d.feed({ kind: 'ORDERS_SEEN', at: fence, orders: { 'qt-a-1-E': null } });
    expect(d.s.result).toMatchObject({ outcome: 'ENTRY_FAILED', detail: 'the exchange never showed order qt-a-1-E' });
  });

  it('an execution reported late (within the watch) is owned and protected', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.feed({ kind: 'ORDER_ANSWER', clientOrderId: 'qt-a-1-E', answer: { outcome: 'UNKNOWN', reason: 'timeout' } });
    d.now += 15_000;
    d.feed({ kind: 'ORDERS_SEEN', at: d.now, orders: { 'qt-a-1-E': orderFact('qt-a-1-E', { avgPrice: 0 }) } });
    // No price on the order: the stop waits for a read of the mark.
    expect(d.s.stage).toBe('PROTECTING');
    expect(d.command).toEqual({ kind: 'READ', after: null });
    d.reading(1, 101);
    expect(d.command).toMatchObject({ kind: 'PLACE_STOP', triggerPrice: 101 * 0.99 });
  });

  it('a lookup that fails keeps the entry unknown (no failure is inferred)', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.feed({ kind: 'ORDER_ANSWER', clientOrderId: 'qt-a-1-E', answer: { outcome: 'UNKNOWN', reason: 'timeout' } });
    d.now += 60_000;
    d.feed({ kind: 'LOOKUP_FAILED', clientOrderIds: ['qt-a-1-E'], reason: '503' });
    expect(d.s.stage).toBe('ENTERING');
    expect(d.wait()).toEqual({ kind: 'LOOKUP', clientOrderIds: ['qt-a-1-E'] });
  });

  it('a close before the entry was sent sends nothing', () => {
    const s = newEntry({ ...id, notional: 100 }, T0);
    const out = step(s, { kind: 'CLOSE_REQUESTED', reason: 'KILL_FLATTEN' }, { now: T0, rules: DEFAULT_PARAMS, checkEveryMs: CHECK_MS });
    expect(out.state.result).toMatchObject({ outcome: 'ENTRY_FAILED', detail: 'close requested before the entry was sent' });
    expect(out.state.orders).toHaveLength(0);
    expect(out.command).toEqual({ kind: 'DONE' });
  });

  it('a close after the entry was planned but before it was sent: it is never sent', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    expect(d.command.kind).toBe('SEND_ENTRY');
    expect(d.feed({ kind: 'CLOSE_REQUESTED', reason: 'KILL_FLATTEN' })).toEqual({ kind: 'DONE' });
    expect(d.s.result).toMatchObject({ outcome: 'ENTRY_FAILED', detail: 'close requested before the entry was sent' });
    expect(d.s.orders).toHaveLength(0);
  });

  it('a close while the entry is in flight: once it fills, it is protected and closed at once', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    // The answer of the request in flight comes back after the close was requested.
    const sent = d.command as Extract<LifecycleCommand, { kind: 'SEND_ENTRY' }>;
    d.s = { ...d.s, closeRequest: { reason: 'KILL_FLATTEN' } };
    d.feed({ kind: 'ORDER_ANSWER', clientOrderId: sent.clientOrderId, answer: { outcome: 'ORDER', order: orderFact(sent.clientOrderId) } });
    expect(d.s.stage).toBe('PROTECTING');
    expect(d.command.kind).toBe('PLACE_STOP');
    d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'PLACED', venueTime: T0 } });
    expect(d.s.stage).toBe('EXITING');
    expect(d.s.exitReason).toBe('KILL_FLATTEN');
    expect(d.s.orders.filter((a) => a.purpose === 'ENTRY')).toHaveLength(1);
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X1', quantity: null });
  });

  it('a close while a live entry has filled nothing cancels it at once', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({ status: 'NEW', executedQty: 0, avgPrice: 0 });
    expect(d.feed({ kind: 'CLOSE_REQUESTED', reason: 'MANUAL' })).toEqual({ kind: 'CANCEL_ORDER', clientOrderId: 'qt-a-1-E' });
    d.feed({ kind: 'CANCEL_ANSWER', clientOrderId: 'qt-a-1-E', order: orderFact('qt-a-1-E', { status: 'CANCELED', executedQty: 0, avgPrice: 0 }) });
    expect(d.s.result).toMatchObject({ outcome: 'ENTRY_FAILED', detail: 'close requested; entry order qt-a-1-E ended with nothing filled' });
  });
});

describe('protecting', () => {
  it('journals nothing about the position before the stop is settled, then the position row', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({});
    expect(d.journal.some((w) => w.kind === 'entry')).toBe(false);
    d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'PLACED', venueTime: T0 } });
    expect(d.kinds()).toEqual(['order', 'order', 'entry']);
    expect(d.journal[2]).toMatchObject({ kind: 'entry', ifAbsent: false, entry: { quantity: 1, entryPrice: 100, entryFee: 0, stopPrice: 99 } });
  });

  it('retries a stop that fails, and closes at market with an alert when none is on within the bound', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({});
    let attempts = 0;
    while (d.s.stage === 'PROTECTING') {
      expect(d.command.kind).toBe('PLACE_STOP');
      attempts++;
      d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'FAILED', reason: '503 Service Unavailable' } }, attempts === 1 ? 0 : 1000);
      if (d.command.kind === 'WAIT') d.wait();
    }
    expect(attempts).toBeGreaterThan(3);
    expect(d.now - T0).toBeGreaterThanOrEqual(T.protectWithinMs);
    expect(d.s.exitReason).toBe('PROTECTION_FAILED');
    expect(d.command.kind).toBe('SEND_EXIT');
    expect(d.notices.find((n) => n.level === 'error')).toMatchObject({ counter: { name: 'alerts', label: 'PROTECTION_FAILED' } });
    expect(d.journal.find((w) => w.kind === 'riskEvent')).toMatchObject({ key: 'BTCUSDT-a-1:PROTECTION_FAILED' });
    // The position is closed; a stop request that failed may still land, so it is cancelled once it no longer can.
    const failedAt = d.now;
    d.answer({ orderId: 12, side: 'SELL', avgPrice: 99.5 });
    expect(d.command).toMatchObject({ kind: 'FETCH_FILLS', orderId: 11 });
    d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-E', fills: [fill(11)] });
    expect(d.command).toMatchObject({ kind: 'FETCH_FILLS', orderId: 12 });
    d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-X1', fills: [fill(12, { side: 'SELL', price: 99.5, realizedPnl: -0.5 })] });
    expect(d.command).toEqual({ kind: 'WAIT', until: failedAt + T.sendWindowMs + T.acceptWindowMs });
    expect(d.wait()).toEqual({ kind: 'CANCEL_STOP', clientAlgoId: 'qt-a-1-S' });
    d.feed({ kind: 'STOP_CANCELLED', outcome: 'GONE', actualOrderId: null });
    expect(d.s.result).toMatchObject({ outcome: 'CLOSED', exitReason: 'PROTECTION_FAILED' });
  });

  it('-2021 (price already through the stop) exits at market at once, as a stop loss', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({});
    d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'WOULD_TRIGGER', reason: '-2021 Order would immediately trigger.' } });
    expect(d.s.stage).toBe('EXITING');
    expect(d.s.exitReason).toBe('STOP_LOSS');
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X1' });
  });

  it('a refused stop closes at market and alerts', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({});
    d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'REFUSED', reason: '-4045 Reach max stop order limit.', code: -4045 } });
    expect(d.s.exitReason).toBe('PROTECTION_FAILED');
    expect(d.notices.some((n) => n.counter?.label === 'PROTECTION_FAILED')).toBe(true);
  });

  it('a close request does not wait out a failing stop', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({});
    d.feed({ kind: 'CLOSE_REQUESTED', reason: 'MANUAL' });
    d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'FAILED', reason: 'timeout' } });
    expect(d.s.stage).toBe('EXITING');
    expect(d.s.protection.status).toBe('ABANDONED');
  });
});

describe('fills', () => {
  it('fills not visible yet are retried with backoff, never booked at price 0; the row is corrected once they are', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.answer({ avgPrice: 100.5 });
    d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'PLACED', venueTime: T0 } });
    expect(d.command).toMatchObject({ kind: 'FETCH_FILLS' });
    d.feed({ kind: 'FILLS_FAILED', clientOrderId: 'qt-a-1-E', reason: '403 Forbidden' });
    expect(d.s.stage).toBe('OPEN');
    expect(d.command).toEqual({ kind: 'READ', after: null }); // the position is watched meanwhile
    d.reading(1, 100.6);
    d.now = d.s.orders[0]!.fillsRetryAt;
    expect(d.feed({ kind: 'WOKE' })).toMatchObject({ kind: 'FETCH_FILLS' });
    d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-E', fills: [] });
    expect(d.s.books.entryQty).toBe(0);
    d.now = d.s.orders[0]!.fillsRetryAt;
    d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-E', fills: [fill(11, { price: 100.5, commission: 0.05 })] });
    const entries = d.journal.filter((w): w is Extract<JournalWrite, { kind: 'entry' }> => w.kind === 'entry');
    expect(entries.map((w) => [w.entry.entryPrice, w.entry.entryFee])).toEqual([
      [100.5, 0],
      [100.5, 0.05],
    ]);
    expect(d.notices.some((n) => n.message.startsWith('Order executed BTCUSDT BUY 1 @ 100.5 (LONG entry, fee 0.0500)'))).toBe(true);
  });

  it('books each trade once, whatever the number of fetches', () => {
    const d = openPosition();
    d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-E', fills: [fill(11)] });
    expect(d.s.books.tradeIds).toEqual([110]);
    expect(d.journal.filter((w) => w.kind === 'fills')).toHaveLength(1);
  });
});

describe('open: flat is a fact', () => {
  it('one empty read is confirmed with a fresh read before anything; the position stays when it disagrees', () => {
    const d = openPosition();
    d.reading(0, 100, CHECK_MS);
    expect(d.s.flat).toMatchObject({ confirmed: false });
    expect(d.command).toEqual({ kind: 'READ', after: d.now });
    d.reading(1, 100, 100);
    expect(d.s.flat).toBeNull();
    expect(d.s.stage).toBe('OPEN');
    expect(d.journal.some((w) => w.kind === 'close')).toBe(false);
    expect(d.command).toMatchObject({ kind: 'WAIT' });
  });

  it('flat twice with no fill to explain it: nothing booked, the stop stays, an alert after repeated strikes', () => {
    const d = openPosition();
    for (let i = 0; i < T.flatStrikesBeforeAlert; i++) {
      d.reading(0, 100, CHECK_MS);
      d.reading(0, 100, 100);
      expect(d.command).toMatchObject({ kind: 'GATHER_EVIDENCE', clientAlgoId: 'qt-a-1-S', since: T0 });
      d.feed({ kind: 'EVIDENCE', evidence: { stop: { status: 'NEW', actualOrderId: null }, closingTrades: [] } });
      expect(d.s.stage).toBe('OPEN');
    }
    expect(d.s.protection.status).toBe('PLACED');
    expect(d.journal.some((w) => w.kind === 'close')).toBe(false);
    expect(d.notices.filter((n) => n.counter?.label === 'FLAT_UNEXPLAINED')).toHaveLength(1);
  });

  it('flat twice and the stop fired: booked from the stop\'s fill once visible, never at price 0', () => {
    const d = openPosition();
    d.reading(0, 98, CHECK_MS);
    d.reading(0, 98, 100);
    d.feed({ kind: 'EVIDENCE', evidence: { stop: { status: 'FINISHED', actualOrderId: 77 }, closingTrades: [] } });
    expect(d.s.stage).toBe('EXITING');
    expect(d.command).toEqual({ kind: 'FETCH_FILLS', clientOrderId: 'qt-a-1-S', orderId: 77 });
    d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-S', fills: [] });
    expect(d.s.stage).toBe('EXITING');
    d.now = d.s.orders.at(-1)!.fillsRetryAt;
    d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-S', fills: [fill(77, { side: 'SELL', price: 98.9, realizedPnl: -1.1, commission: 0.049 })] });
    expect(d.s.result).toEqual({ outcome: 'CLOSED', exitReason: 'STOP_LOSS', netPnl: expect.closeTo(-1.1 - 0.049 - 0.05, 10), venueTime: T0 });
    expect(d.journal.at(-1)).toMatchObject({ kind: 'close', close: { exitPrice: 98.9, exitReason: 'STOP_LOSS' } });
  });

  it('a stop that is triggering is waited for', () => {
    const d = openPosition();
    d.reading(0, 98, CHECK_MS);
    d.reading(0, 98, 100);
    d.feed({ kind: 'EVIDENCE', evidence: { stop: { status: 'TRIGGERED', actualOrderId: null }, closingTrades: [] } });
    expect(d.s.flat).toMatchObject({ confirmed: true });
    expect(d.wait()).toMatchObject({ kind: 'GATHER_EVIDENCE' });
  });

  it('flat twice and the account traded it away: booked at those trades, the stop cancelled', () => {
    const d = openPosition();
    d.reading(0, 100, CHECK_MS);
    d.reading(0, 100, 100);
    d.feed({ kind: 'EVIDENCE', evidence: { stop: { status: 'NEW', actualOrderId: null }, closingTrades: [fill(90, { side: 'SELL', price: 101, realizedPnl: 1, commission: 0.05 })] } });
    expect(d.s.exitReason).toBe('CLOSED_EXTERNALLY');
    expect(d.command).toEqual({ kind: 'CANCEL_STOP', clientAlgoId: 'qt-a-1-S' });
    d.feed({ kind: 'STOP_CANCELLED', outcome: 'GONE', actualOrderId: null });
    expect(d.s.result).toMatchObject({ outcome: 'CLOSED', exitReason: 'CLOSED_EXTERNALLY', netPnl: expect.closeTo(1 - 0.1, 10) });
    expect(d.journal.find((w) => w.kind === 'fills' && w.fills[0]!.clientOrderId === 'external-90')).toBeDefined();
  });

  it('trades on the opening side, or too small, explain nothing', () => {
    const d = openPosition();
    d.reading(0, 100, CHECK_MS);
    d.reading(0, 100, 100);
    d.feed({ kind: 'EVIDENCE', evidence: { stop: null, closingTrades: [fill(91, { side: 'BUY' }), fill(92, { side: 'SELL', qty: 0.5 })] } });
    expect(d.s.stage).toBe('OPEN');
    expect(d.s.quantity).toBe(1);
  });
});

describe('open: marks', () => {
  it.each([0, Number.NaN, 1e300, -5, Number.POSITIVE_INFINITY])('one mark of %s triggers no exit', (bad) => {
    const d = openPosition();
    d.reading(1, bad, CHECK_MS);
    expect(d.s.stage).toBe('OPEN');
    expect(d.s.lastMark).toBeNull();
    d.reading(1, 100.2, CHECK_MS);
    expect(d.s.stage).toBe('OPEN');
    expect(d.s.lastMark).toBe(100.2);
  });

  it('a large move is believed when the next read confirms it', () => {
    const d = openPosition();
    d.reading(1, 80, CHECK_MS);
    expect(d.s.stage).toBe('OPEN');
    d.reading(1, 80.5, CHECK_MS);
    expect(d.s.stage).toBe('EXITING');
    expect(d.s.exitReason).toBe('STOP_LOSS');
  });

  it('take profit closes with a reduce-only exit, cancels the stop and books the P&L from the fills', () => {
    const d = openPosition();
    d.reading(1, 101.6, CHECK_MS);
    expect(d.s.exitReason).toBe('TAKE_PROFIT');
    exitFilled(d, 101.6);
    expect(d.s.result).toMatchObject({ outcome: 'CLOSED', exitReason: 'TAKE_PROFIT', netPnl: expect.closeTo(1.6 - 0.11, 10) });
    const close = d.journal.at(-1) as Extract<JournalWrite, { kind: 'close' }>;
    expect(close.close).toMatchObject({ exitPrice: 101.6, exitFee: 0.06, grossPnl: expect.closeTo(1.6, 10) });
    expect(d.notices.at(-1)).toMatchObject({ level: 'info', message: 'Position closed BTCUSDT LONG TAKE_PROFIT @ 101.6 net=1.4900', counter: { name: 'positionsClosed', label: 'TAKE_PROFIT' } });
  });
});

describe('open: marks from the stream', () => {
  it('a stream mark beyond take profit starts the exit at once, with the same reason', () => {
    const d = openPosition();
    d.feed({ kind: 'STREAM_MARK', price: 101.6, bestPrice: 100.9 }, 300);
    expect(d.s.stage).toBe('EXITING');
    expect(d.s.exitReason).toBe('TAKE_PROFIT');
    exitFilled(d, 101.6);
    expect(d.s.result).toMatchObject({ outcome: 'CLOSED', exitReason: 'TAKE_PROFIT' });
  });

  it.each([0, Number.NaN, 1e300, -5])('one stream mark of %s triggers no exit', (bad) => {
    const d = openPosition();
    d.feed({ kind: 'STREAM_MARK', price: bad, bestPrice: null }, 300);
    expect(d.s.stage).toBe('OPEN');
    expect(d.s.lastMark).toBeNull();
  });

  it('a jump on the stream is believed only when the next mark confirms it', () => {
    const d = openPosition();
    d.feed({ kind: 'STREAM_MARK', price: 80, bestPrice: null }, 300);
    expect(d.s.stage).toBe('OPEN');
    d.feed({ kind: 'STREAM_MARK', price: 80.4, bestPrice: null }, 1000);
    expect(d.s.exitReason).toBe('STOP_LOSS');
  });

  it('the trailing stop counts the best price the stream saw, only with a believed mark', () => {
    const d = openPosition();
    d.reading(1, 100.5, CHECK_MS);
    d.feed({ kind: 'STREAM_MARK', price: 100.5, bestPrice: null }, 300);
    expect(d.s.stage).toBe('OPEN'); // best 100.5: the trail has not armed
    d.feed({ kind: 'STREAM_MARK', price: 1e300, bestPrice: 101.2 }, 300);
    expect(d.s.tracker!.bestPrice).toBe(100.5); // a mark not believed brings no best price with it
    d.feed({ kind: 'STREAM_MARK', price: 100.5, bestPrice: 101.2 }, 300);
    expect(d.s.exitReason).toBe('TRAILING_STOP'); // armed at 101.2, trail 100.59
  });

  it('a lost stream makes the next read due at once; a stream mark during a flat check changes nothing', () => {
    const d = openPosition();
    d.reading(1, 100.2, CHECK_MS);
    expect(d.s.nextReadAt).toBe(d.now + CHECK_MS);
    expect(d.feed({ kind: 'STREAM_LOST' }, 100)).toMatchObject({ kind: 'READ' });
    d.reading(0, 100.2);
    expect(d.s.flat).not.toBeNull();
    d.feed({ kind: 'STREAM_MARK', price: 101.6, bestPrice: null }, 100);
    expect(d.s.exitReason).toBeNull();
  });
});

describe('open: an exit armed for the stream watch', () => {
  const armed = (d: Driver) => {
    const { state, armed: a } = armStreamExit(d.s);
    d.s = state;
    return a;
  };

  it('arms the next exit id for what the position holds, and nothing once a flat read is confirmed or an exit is under way', () => {
    const d = openPosition();
    expect(armed(d)).toEqual({ clientOrderId: 'qt-a-1-X1', quantity: 1 });
    expect(d.s.armedExit).toBe('qt-a-1-X1');
    d.feed({ kind: 'CLOSE_REQUESTED', reason: 'MANUAL' });
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X1' }); // the position's own exit takes the armed id
    expect(armed(d)).toBeNull();
    expect(d.s.armedExit).toBeNull();
    const flat = openPosition();
    armed(flat);
    flat.reading(0, 100, CHECK_MS);
    expect(armed(flat)).toEqual({ clientOrderId: 'qt-a-1-X1', quantity: 1 }); // one flat read may be stale
    flat.reading(0, 100, 200);
    expect(armed(flat)).toBeNull();
  });

  it('a flat read that the next read contradicts leaves the armed exit alone: the exit is not held back', () => {
    const d = openPosition();
    armed(d);
    d.reading(0, 101.7, CHECK_MS);
    expect(d.s.armedExit).toBe('qt-a-1-X1');
    d.reading(1, 101.7, 200); // there after all, beyond take profit
    expect(d.s.exitReason).toBe('TAKE_PROFIT');
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X1' });
    expect(d.s.orders.find((a) => a.clientOrderId === 'qt-a-1-X1')!.status).toBe('SENDING');
  });

  it('the watch\'s report of a sent exit makes it the position\'s exit: confirmed by a send of the same id, booked and closed with the watch\'s reason', () => {
    const d = openPosition();
    armed(d);
    d.feed({ kind: 'STREAM_EXIT', clientOrderId: 'qt-a-1-X1', price: 101.6, bestPrice: 101, reason: 'TAKE_PROFIT' }, 300);
    expect(d.s.stage).toBe('EXITING');
    expect(d.s.armedExit).toBeNull();
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X1' });
    exitFilled(d, 101.6);
    expect(d.s.result).toMatchObject({ outcome: 'CLOSED', exitReason: 'TAKE_PROFIT' });
    expect(d.s.orders.filter((a) => a.purpose === 'EXIT').map((a) => a.clientOrderId)).toEqual(['qt-a-1-X1']);
  });

  it('the watch\'s reason stands even when the lifecycle does not believe the mark on its own (the order is out)', () => {
    const d = openPosition();
    armed(d);
    d.feed({ kind: 'STREAM_EXIT', clientOrderId: 'qt-a-1-X1', price: 80, bestPrice: 100, reason: 'STOP_LOSS' }, 300);
    expect(d.s.exitReason).toBe('STOP_LOSS');
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X1' });
  });

  it('a report for an id never armed changes nothing', () => {
    const d = openPosition();
    d.feed({ kind: 'STREAM_EXIT', clientOrderId: 'qt-a-1-X1', price: 101.6, bestPrice: 101, reason: 'TAKE_PROFIT' }, 300);
    expect(d.s.stage).toBe('OPEN');
    expect(d.s.orders.some((a) => a.purpose === 'EXIT')).toBe(false);
  });

  it('a flat read while armed looks the armed id up before any evidence: the watch\'s exit, report lost, is booked with the reason its fill reached', () => {
    const d = openPosition();
    armed(d);
    expect(d.reading(0, 101.7, CHECK_MS)).toMatchObject({ kind: 'READ' }); // one empty read is confirmed first
    expect(d.reading(0, 101.7, 200)).toMatchObject({ kind: 'LOOKUP', clientOrderIds: ['qt-a-1-X1'] });
    expect(d.s.armedExit).toBeNull();
    d.feed({ kind: 'ORDERS_SEEN', at: d.now, orders: { 'qt-a-1-X1': orderFact('qt-a-1-X1', { orderId: 12, side: 'SELL', avgPrice: 101.7 }) } });
    expect(d.s.exitReason).toBe('TAKE_PROFIT');
    expect(d.s.stage).toBe('EXITING');
    expect(d.command).toEqual({ kind: 'CANCEL_STOP', clientAlgoId: 'qt-a-1-S' });
    d.feed({ kind: 'STOP_CANCELLED', outcome: 'GONE', actualOrderId: null });
    d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-X1', fills: [fill(12, { side: 'SELL', price: 101.7, realizedPnl: 1.7, commission: 0.06 })] });
    expect(d.s.result).toMatchObject({ outcome: 'CLOSED', exitReason: 'TAKE_PROFIT', netPnl: expect.closeTo(1.7 - 0.11, 10) });
  });

  it('a flat read while armed, the armed id never seen: evidence is gathered once the id can no longer appear', () => {
    const d = openPosition();
    armed(d);
    d.reading(0, 100, CHECK_MS);
    d.reading(0, 100, 200);
    expect(d.command).toMatchObject({ kind: 'LOOKUP', clientOrderIds: ['qt-a-1-X1'] });
    d.feed({ kind: 'ORDERS_SEEN', at: d.now, orders: { 'qt-a-1-X1': null } });
    expect(d.command.kind).not.toBe('GATHER_EVIDENCE');
    const fence = d.s.orders.find((a) => a.clientOrderId === 'qt-a-1-X1')!.sendBefore + T.acceptWindowMs;
    d.feed({ kind: 'ORDERS_SEEN', at: fence, orders: { 'qt-a-1-X1': null } }, fence - d.now);
    expect(d.s.orders.find((a) => a.clientOrderId === 'qt-a-1-X1')!.status).toBe('ABSENT');
    expect(d.command).toMatchObject({ kind: 'GATHER_EVIDENCE' });
  });
});

describe('exiting', () => {
  const toExit = () => {
    const d = openPosition();
    d.feed({ kind: 'CLOSE_REQUESTED', reason: 'MANUAL' });
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X1' });
    return d;
  };

  it('an exit that EXPIRED unfilled is resent under the next id', () => {
    const d = toExit();
    d.answer({ orderId: 12, side: 'SELL', status: 'EXPIRED', executedQty: 0, avgPrice: 0 });
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X2' });
    expect(d.s.quantity).toBe(1);
  });

  it('a partially filled exit leaves the remainder owned, and exits it', () => {
    const d = toExit();
    d.answer({ orderId: 12, side: 'SELL', status: 'EXPIRED', executedQty: 0.3 });
    expect(d.s.quantity).toBeCloseTo(0.7, 12);
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X2' });
  });

  it('an exit still NEW after the wait is cancelled, then resent under the next id', () => {
    const d = toExit();
    d.answer({ orderId: 12, side: 'SELL', status: 'NEW', executedQty: 0, avgPrice: 0 });
    expect(d.command).toMatchObject({ kind: 'WAIT' });
    d.now += T.liveOrderWaitMs;
    expect(d.feed({ kind: 'WOKE' })).toEqual({ kind: 'CANCEL_ORDER', clientOrderId: 'qt-a-1-X1' });
    d.feed({ kind: 'CANCEL_ANSWER', clientOrderId: 'qt-a-1-X1', order: orderFact('qt-a-1-X1', { status: 'NEW', executedQty: 0, avgPrice: 0 }) });
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X2' });
  });

  it('an exit of unknown outcome is looked up, and resent only once it can no longer appear', () => {
    const d = toExit();
    d.feed({ kind: 'ORDER_ANSWER', clientOrderId: 'qt-a-1-X1', answer: { outcome: 'UNKNOWN', reason: 'socket hang up' } });
    expect(d.wait()).toEqual({ kind: 'LOOKUP', clientOrderIds: ['qt-a-1-X1'] });
    d.feed({ kind: 'ORDERS_SEEN', at: d.now, orders: { 'qt-a-1-X1': null } });
    expect(d.s.orders.find((a) => a.clientOrderId === 'qt-a-1-X2')).toBeUndefined();
    const fence = d.s.orders.find((a) => a.clientOrderId === 'qt-a-1-X1')!.sendBefore + T.acceptWindowMs;
    d.now = fence;
    d.feed({ kind: 'ORDERS_SEEN', at: fence, orders: { 'qt-a-1-X1': null } });
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X2' });
  });

  it('an exit that finds the exchange flat confirms it and looks for the closing fill', () => {
    const d = toExit();
    d.feed({ kind: 'ORDER_ANSWER', clientOrderId: 'qt-a-1-X1', answer: { outcome: 'FLAT', at: d.now } });
    expect(d.command).toEqual({ kind: 'READ', after: d.now });
    // The second read disagrees: it was one bad read, the exit is sent again.
    d.reading(1, 100, 50);
    expect(d.command).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-X2' });
  });

  it('refused exits are retried with backoff and alert after three', () => {
    const d = toExit();
    for (let n = 1; n <= 3; n++) {
      d.feed({ kind: 'ORDER_ANSWER', clientOrderId: `qt-a-1-X${n}`, answer: { outcome: 'REFUSED', reason: '-1111 precision', code: -1111 } });
      expect(d.command).toMatchObject({ kind: 'WAIT' });
      expect(d.wait()).toMatchObject({ kind: 'SEND_EXIT', clientOrderId: `qt-a-1-X${n + 1}` });
    }
    expect(d.notices.some((n) => n.counter?.label === 'EXIT_FAILING')).toBe(true);
  });
});

describe('second entry', () => {
  it('exposure above what the position owns is checked against the entry ids; a duplicate fill is owned and reduced', () => {
    const d = new Driver(newEntry({ ...id, notional: 100 }, T0));
    d.feed({ kind: 'ORDER_ANSWER', clientOrderId: 'qt-a-1-E', answer: { outcome: 'NOT_SENT', reason: '503 Service Unavailable' } });
    d.wait();
    d.answer({ orderId: 13 });
    d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'PLACED', venueTime: T0 } });
    d.feed({ kind: 'FILLS', clientOrderId: 'qt-a-1-E2', fills: [fill(13)] });
    // The "not sent" request executed after all.
    d.reading(2, 100, CHECK_MS);
    expect(d.command).toEqual({ kind: 'LOOKUP', clientOrderIds: ['qt-a-1-E2'] });
    expect(d.s.excess).toEqual({ quantity: 2 });
    d.s.orders[0]!.status = 'UNKNOWN'; // as a late lookup would have found it: include the first id
    d.feed({ kind: 'ORDERS_SEEN', at: d.now, orders: { 'qt-a-1-E': orderFact('qt-a-1-E', { orderId: 11 }), 'qt-a-1-E2': orderFact('qt-a-1-E2', { orderId: 13 }) } });
    expect(d.s.quantity).toBe(2);
    expect(d.command).toEqual({ kind: 'SEND_EXIT', clientOrderId: 'qt-a-1-R1', sendBefore: d.now + T.sendWindowMs, quantity: 1 });
    expect(d.notices.some((n) => n.counter?.label === 'DUPLICATE_ENTRY')).toBe(true);
    d.answer({ orderId: 14, side: 'SELL' });
    expect(d.s.quantity).toBe(1);
    expect(d.s.stage).toBe('OPEN');
  });

  it('exposure that no entry of the stem explains raises an alert and changes nothing', () => {
    const d = openPosition();
    d.reading(3, 100, CHECK_MS);
    d.feed({ kind: 'ORDERS_SEEN', at: d.now, orders: { 'qt-a-1-E': orderFact('qt-a-1-E') } });
    expect(d.s.quantity).toBe(1);
    expect(d.notices.some((n) => n.counter?.label === 'UNEXPLAINED_EXPOSURE')).toBe(true);
  });
});

describe('adoption', () => {
  it('reads the exchange, protects, journals the row if absent, and manages the exits', () => {
    const d = new Driver(newAdoption({ ...id, entryPrice: 200, reason: 'orphan' }, T0));
    expect(d.s.stage).toBe('ADOPTING');
    expect(d.command).toEqual({ kind: 'READ', after: null });
    d.reading(0.5, 201);
    expect(d.s.stage).toBe('PROTECTING');
    expect(d.command).toEqual({ kind: 'PLACE_STOP', clientAlgoId: 'qt-a-1-S', triggerPrice: 198, sendBefore: d.now + T.sendWindowMs });
    d.feed({ kind: 'STOP_ANSWER', answer: { outcome: 'PLACED', venueTime: T0 + 5 } });
    expect(d.s.stage).toBe('OPEN');
    expect(d.journal.find((w) => w.kind === 'entry')).toMatchObject({ ifAbsent: true, entry: { quantity: 0.5, entryPrice: 200, entryFee: 0 } });
    d.reading(0.5, 203.1, CHECK_MS);
    expect(d.s.exitReason).toBe('TAKE_PROFIT');
  });

  it('nothing to adopt (flat twice) ends without an order', () => {
    const d = new Driver(newAdoption({ ...id, entryPrice: 200, reason: 'orphan' }, T0));
    d.reading(0, 200);
    d.reading(0, 200, 100);
    expect(d.s.result).toMatchObject({ outcome: 'ENTRY_FAILED', detail: 'no exchange position to adopt' });
    expect(d.s.orders).toHaveLength(0);
  });

  it('a position handed over by the earlier workflow looks its earlier exit ids up before anything is resent', () => {
    const s = resumedPosition(
      { ...id, quantity: 1, entryPrice: 100, entryFee: 0.05, openedAt: T0, tracker: newTracker('LONG', 100, T0), stopPrice: 99, takeProfitPrice: 101.5 },
      ['qt-a-1-X1'],
      { reason: 'MANUAL' },
      T0,
    );
    const out = step(s, { kind: 'WOKE' }, { now: T0 + 2000, rules: DEFAULT_PARAMS, checkEveryMs: CHECK_MS });
    expect(out.state.stage).toBe('EXITING');
    expect(out.command).toEqual({ kind: 'LOOKUP', clientOrderIds: ['qt-a-1-X1'] });
  });
});
