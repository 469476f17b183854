import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_TIMING } from '../../core/position-lifecycle.js';
import { closePositionSignal } from '../../workflows/contracts.js';
import { BadPrints } from './bad-prints.js';
import { captureHistory } from './capture.js';
import { eventually, startHarness, uniqueSymbol, type Harness } from './harness.js';
import {
  clearFaults,
  exchangeView,
  expectBooksMatchExchange,
  expectOwnedAndProtected,
  reachStage,
  setFaults,
  startPosition,
  type StartedPosition,
} from './positions.js';
import { sleep } from '../../infra/sleep.js';


/**
 * One position's life on an exchange that misbehaves the ways Binance can: answers lost or partial, reads
 * empty, trades unreadable, stops refused, prints absurd. Position workflows are started directly (as a
 * symbol workflow starts them), run by the real worker through the real client against the local exchange.
 */
describe('position lifecycle on a faulty exchange', () => {
  let h: Harness;
  const badPrints = new BadPrints();
  beforeAll(async () => {
    h = await startHarness({ wrapExchange: (ex) => badPrints.wrap(ex) });
    await h.startWorker();
  });
  afterEach(async () => clearFaults(h));
  afterAll(async () => h?.close());

  async function openAt(price: number, opts: Parameters<typeof startPosition>[2] = {}): Promise<StartedPosition> {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, price);
    return startPosition(h, symbol, opts);
  }

  async function closeManually(p: StartedPosition) {
    await p.handle.signal(closePositionSignal, { reason: 'MANUAL' });
    return p.result();
  }

  it('an empty position read right after the entry cancels no stop and books nothing', async () => {
    await setFaults(h, { emptyPositionRead: { count: 1 } });
    const p = await openAt(100);
    await reachStage(p, 'OPEN');
    await eventually(async () => h.localExchange.faults.current().emptyPositionRead?.count === 0, 'the empty read to be served');
    await sleep(3_000); // several more reads
    await expectOwnedAndProtected(h, p);
    expect((await p.state()).stage).toBe('OPEN');
    expect((await h.journal.getPosition(p.positionId))?.status).toBe('OPEN');
    expect(await closeManually(p)).toMatchObject({ outcome: 'CLOSED', exitReason: 'MANUAL' });
    await expectBooksMatchExchange(h, p);
  });

  it.each([
    ['EXPIRED', 0.5],
    ['PARTIALLY_FILLED', 0.4],
    ['NEW', 0],
  ] as const)('an entry that ends %s after a partial fill (fraction %s) is owned and protected, never ENTRY_FAILED', async (status, fraction) => {
    await setFaults(h, { partialFill: { count: 1, fraction, status } });
    const p = await openAt(100);
    await eventually(async () => (await exchangeView(h, p.symbol)).orders.length === 1, 'the entry to reach the exchange');
    if (status === 'NEW') expect((await p.state()).stage).toBe('ENTERING');
    // An open remainder fills at the next price step.
    if (status !== 'EXPIRED') await h.setPrice(p.symbol, 100.05);
    const open = await reachStage(p, 'OPEN');
    const expected = status === 'EXPIRED' ? 0.5 : 1;
    await eventually(async () => Math.abs((await p.state()).quantity - expected) < 1e-9, `the position to own ${expected}`);
    await expectOwnedAndProtected(h, p);
    expect(open.result).toBeNull();
    await eventually(async () => (await h.journal.getPosition(p.positionId))?.quantity === expected, 'the journal to hold the exchange quantity');
    expect(await closeManually(p)).toMatchObject({ outcome: 'CLOSED', exitReason: 'MANUAL' });
    await expectBooksMatchExchange(h, p);
    if (status === 'PARTIALLY_FILLED') await captureHistory(p.handle.workflowId, 'position-lifecycle-partial-entry');
  });

  it('an entry that stays NEW with nothing filled is cancelled, and only then ENTRY_FAILED', async () => {
    await setFaults(h, { partialFill: { count: 1, fraction: 0, status: 'NEW' } });
    const p = await openAt(100);
    const r = await p.result();
    expect(r).toMatchObject({ outcome: 'ENTRY_FAILED' });
    const ex = await exchangeView(h, p.symbol);
    expect(ex.orders).toEqual([expect.objectContaining({ clientOrderId: `${p.orderIdStem}-E`, status: 'CANCELED', executedQty: 0 })]);
    expect(ex.positionAmt).toBe(0);
  });

  it('a 403 on the trades after the fill never fails the entry: protected at once, booked once readable', async () => {
    await setFaults(h, { httpError: { count: 2, path: '/fapi/v1/userTrades', status: 403 } });
    const p = await openAt(100);
    await reachStage(p, 'OPEN');
    await expectOwnedAndProtected(h, p);
    const fee = (await exchangeView(h, p.symbol)).fills[0]!.commission;
    await eventually(async () => (await h.journal.getPosition(p.positionId))?.entryFee === fee, 'the entry fee once the trades are readable', 30_000);
    expect(await closeManually(p)).toMatchObject({ outcome: 'CLOSED' });
    await expectBooksMatchExchange(h, p);
  });

  it('an exit that expires unfilled is resent under the next id', async () => {
    const p = await openAt(100);
    await reachStage(p, 'OPEN');
    await setFaults(h, { partialFill: { count: 1, fraction: 0, status: 'EXPIRED' } });
    expect(await closeManually(p)).toMatchObject({ outcome: 'CLOSED', exitReason: 'MANUAL' });
    const exits = (await exchangeView(h, p.symbol)).orders.filter((o) => o.clientOrderId.includes('-X'));
    expect(exits).toEqual([
      expect.objectContaining({ clientOrderId: `${p.orderIdStem}-X1`, status: 'EXPIRED', executedQty: 0 }),
      expect.objectContaining({ clientOrderId: `${p.orderIdStem}-X2`, status: 'FILLED' }),
    ]);
    await expectBooksMatchExchange(h, p);
  });

  it('a stop fill whose trades are not readable yet is booked at its price once they are, never at 0', async () => {
    const p = await openAt(50, { side: 'SHORT' });
    const open = await reachStage(p, 'OPEN');
    await eventually(async () => (await h.journal.getPosition(p.positionId))?.entryFee, 'the entry booked');
    await setFaults(h, { httpError: { count: 2, path: '/fapi/v1/userTrades', status: 403 } });
    await h.setPrice(p.symbol, Number((open.stopPrice! * 1.002).toFixed(3)));
    expect(await p.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'STOP_LOSS' });
    const stopFill = (await exchangeView(h, p.symbol)).fills[1]!;
    expect((await h.journal.getPosition(p.positionId))!.exitPrice).toBeCloseTo(stopFill.price, 8);
    await expectBooksMatchExchange(h, p);
  });

  it('a stop that cannot be placed for a few seconds (5xx storm) closes the position at market and raises an alert', async () => {
    await setFaults(h, { httpError: { count: 10_000, path: '/fapi/v1/algoOrder', status: 503 } });
    const p = await openAt(100);
    await reachStage(p, 'EXITING', 30_000);
    await clearFaults(h); // the stray-stop check that follows needs the algo API back
    expect(await p.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'PROTECTION_FAILED' });
    const ex = await exchangeView(h, p.symbol);
    expect(ex.positionAmt).toBe(0);
    const [entry, exit] = ex.fills;
    expect(exit!.time - entry!.time).toBeLessThan(LIFECYCLE_TIMING.protectWithinMs + 5_000);
    const events = await h.journal.riskEvents(100);
    expect(events.filter((e) => e.kind === 'PROTECTION_FAILED' && e.symbol === p.symbol)).toHaveLength(1);
    await expectBooksMatchExchange(h, p);
    await captureHistory(p.handle.workflowId, 'position-lifecycle-protection-failed');
  });

  it('a stop refused because the price is already through it (-2021) exits at market at once', async () => {
    // A stop 0.01 % under the entry sits above the mark after the entry's slippage: it would trigger at once.
    const p = await openAt(100, { params: { stopLossPct: 0.01 } });
    expect(await p.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'STOP_LOSS' });
    const ex = await exchangeView(h, p.symbol);
    expect(ex.stops).toEqual([]);
    expect(ex.orders.map((o) => o.clientOrderId)).toEqual([`${p.orderIdStem}-E`, `${p.orderIdStem}-X1`]);
    await expectBooksMatchExchange(h, p);
  });

  it.each([0, Number.NaN, 1e300, -5])('a single mark of %s neither sizes an entry nor triggers an exit', async (bad) => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 100);
    badPrints.atEntry(symbol, bad);
    const p = await startPosition(h, symbol, { notional: 100 });
    await reachStage(p, 'OPEN');
    // The bad print refused the first attempt before anything was sent; the next read sized it.
    const entries = (await exchangeView(h, symbol)).orders;
    expect(entries.map((o) => o.clientOrderId)).toEqual([`${p.orderIdStem}-E2`]);
    expect(entries[0]!.origQty).toBeCloseTo(1, 6);
    badPrints.onReads(symbol, bad);
    await eventually(async () => badPrints.pending(symbol) === 0, 'the bad read to be served');
    await sleep(2_500);
    expect((await p.state()).stage).toBe('OPEN');
    expect((await exchangeView(h, symbol)).orders).toHaveLength(1);
    await expectOwnedAndProtected(h, p);
    expect(await closeManually(p)).toMatchObject({ outcome: 'CLOSED', exitReason: 'MANUAL' });
  });

  it('a close requested while the entry is in flight closes it as soon as its exposure is known', async () => {
    await setFaults(h, { holdResponse: { count: 1, path: '/fapi/v1/order' } });
    const p = await openAt(100);
    await eventually(async () => (await exchangeView(h, p.symbol)).positionAmt !== 0, 'the entry to execute (its answer held)');
    await p.handle.signal(closePositionSignal, { reason: 'KILL_FLATTEN' });
    await sleep(500);
    h.localExchange.release();
    expect(await p.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'KILL_FLATTEN' });
    const ex = await exchangeView(h, p.symbol);
    expect(ex.positionAmt).toBe(0);
    expect(ex.stops.every((s) => s.algoStatus !== 'NEW')).toBe(true);
    await expectBooksMatchExchange(h, p);
  });

  it('adopts an exchange position nobody owns: protected, journaled, closed by its rules', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 200);
    await h.exchange.placeMarketOrder({ symbol, side: 'SELL', quantity: 0.5, referencePrice: 200, clientOrderId: `orphan-${symbol}` });
    const p = await startPosition(h, symbol, { side: 'SHORT', adopt: { quantity: 0.5, entryPrice: 200, reason: 'test orphan' } });
    await reachStage(p, 'OPEN');
    await expectOwnedAndProtected(h, p);
    await eventually(async () => (await h.journal.getPosition(p.positionId))?.quantity === 0.5, 'the adopted row');
    await h.setPrice(symbol, 196.9); // through the 1.5 % take profit of a short from 200
    expect(await p.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'TAKE_PROFIT' });
    expect((await exchangeView(h, symbol)).positionAmt).toBe(0);
    expect((await h.journal.getPosition(p.positionId))?.status).toBe('CLOSED');
  });
});
