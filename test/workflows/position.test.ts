import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitLevels } from '../../core/exits.js';
import { LIFECYCLE_TIMING, type PositionLifecycle } from '../../core/position-lifecycle.js';
import type { PositionSide } from '../../core/types.js';
import type { TradingParams } from '../../core/params.js';
import { closePositionSignal, positionStateQuery, positionWorkflowId, type PositionInput } from '../../workflows/contracts.js';
import { positionWorkflow } from '../../workflows/position.js';
import { captureHistoryOf } from '../trading/capture.js';
import { PARAMS, skipUntil, startTestbed, uniqueSymbol, type WorkflowTestbed } from './setup.js';

/**
 * The position workflow's exits and close requests on Temporal's time-skipping test server: the real
 * workflow and lifecycle, the exchange modelled in memory (test/workflows/fake-venue.ts), production
 * parameters (5 s checks) in skipped time.
 */
describe('position workflow (time skipping)', { timeout: 180_000 }, () => {
  let t: WorkflowTestbed;
  beforeAll(async () => {
    t = await startTestbed();
  });
  afterAll(async () => t?.close());

  const CHECK_MS = PARAMS.positionCheckSeconds * 1000;

  function inputFor(symbol: string, side: PositionSide, params: Partial<TradingParams>): PositionInput {
    const tag = randomBytes(3).toString('hex');
    // The parent need not exist: a report nobody receives is logged and the journal keeps the outcome.
    return { positionId: `${symbol}-${tag}-1`, symbol, side, notional: 100, confidence: 0.8, parentWorkflowId: `qt-symbol-${symbol}`, params: { ...PARAMS, ...params }, orderIdStem: `qt-${tag}-1` };
  }

  async function start(price: number, side: PositionSide = 'LONG', params: Partial<TradingParams> = {}) {
    const symbol = uniqueSymbol();
    await t.venue.setPrice(symbol, price);
    const input = inputFor(symbol, side, params);
    const handle = await t.env.client.workflow.start(positionWorkflow, { workflowId: positionWorkflowId(input.positionId), taskQueue: t.taskQueue, args: [input] });
    const state = async () => (await handle.query(positionStateQuery)).state as PositionLifecycle;
    const reach = (stage: PositionLifecycle['stage']) => skipUntil(t.env, async () => ((await state()).stage === stage ? state() : null), `${stage}`, 200);
    /** Moves the price and lets the position read it (or react to it). */
    const show = async (p: number) => {
      await t.venue.setPrice(symbol, p);
      await skipUntil(t.env, async () => {
        const s = await state();
        return s.lastMark === p || s.stage === 'EXITING' || s.stage === 'CLOSED';
      }, `the position to see ${p}`, 500);
    };
    return { symbol, input, handle, state, reach, show };
  }

  const ids = (symbol: string) => [...t.venue.orders.values()].filter((o) => o.symbol === symbol).map((o) => `${o.clientOrderId.replace(/^qt-[0-9a-f]+-1-/, '')} ${o.status}`);

  it('takes profit at the take-profit level, not before; the exit goes out before the stop is cancelled', async () => {
    const p = await start(100);
    const open = await p.reach('OPEN');
    const { takeProfit } = exitLevels('LONG', open.entryPrice, PARAMS);
    await p.show(101);
    expect((await p.state()).stage).toBe('OPEN');
    const callsBefore = t.venue.calls.length;
    await t.venue.setPrice(p.symbol, takeProfit + 0.01);
    const report = await p.handle.result();
    expect(report).toMatchObject({ outcome: 'CLOSED', exitReason: 'TAKE_PROFIT' });
    expect(report.netPnl).toBeGreaterThan(0);
    const exitCalls = t.venue.calls.slice(callsBefore).filter((c) => ['submitExit', 'cancelStop'].includes(c));
    expect(exitCalls).toEqual(['submitExit', 'cancelStop']);
    expect(ids(p.symbol)).toEqual(['E FILLED', 'X1 FILLED']);
    expect(t.venue.stops.get(`${p.input.orderIdStem}-S`)?.status).toBe('CANCELED');
    expect(t.venue.amount(p.symbol)).toBe(0);
  });

  it('a SHORT closed by the exchange-side stop is booked STOP_LOSS from the stop\'s fill, with no exit order', async () => {
    const p = await start(50, 'SHORT');
    const open = await p.reach('OPEN');
    expect(open.stopPrice).toBeCloseTo(open.entryPrice * 1.01, 8);
    await t.venue.setPrice(p.symbol, open.stopPrice! * 1.002);
    const report = await p.handle.result();
    expect(report).toMatchObject({ outcome: 'CLOSED', exitReason: 'STOP_LOSS' });
    expect(report.netPnl).toBeLessThan(0);
    expect(ids(p.symbol)).toEqual(['E FILLED', 'S-fired FILLED']);
  });

  it('arms the trailing stop after the activation move and exits on the pull-back', async () => {
    const p = await start(200);
    const entry = (await p.reach('OPEN')).entryPrice;
    await p.show(entry * 1.009); // arms (>= 0.8 %)
    const best = entry * 1.012; // a new best, below the 1.5 % take profit
    await p.show(best);
    const trail = best * (1 - PARAMS.trailingStopPct / 100);
    await p.show(trail + 0.05);
    expect((await p.state()).stage).toBe('OPEN');
    await t.venue.setPrice(p.symbol, trail - 0.02);
    expect(await p.handle.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'TRAILING_STOP' });
    expect(ids(p.symbol)).toEqual(['E FILLED', 'X1 FILLED']);
    await captureHistoryOf(p.handle, 'position-trailing-stop');
  });

  it('a print through both the armed trail and the stop loss is booked STOP_LOSS (worst case first)', async () => {
    t.venue.stopsFire = false; // the exchange has not triggered its stop yet
    try {
      const p = await start(100);
      const entry = (await p.reach('OPEN')).entryPrice;
      await p.show(entry * 1.01); // arms the trail
      await t.venue.setPrice(p.symbol, entry * 0.985);
      expect(await p.handle.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'STOP_LOSS' });
    } finally {
      t.venue.stopsFire = true;
    }
  });

  it('closes at the time limit, within one check of it', async () => {
    // Two minutes rather than the default four hours: every 5 s check of the wait still runs its activities.
    const maxHoldSeconds = 120;
    const p = await start(100, 'LONG', { maxHoldSeconds });
    const open = await p.reach('OPEN');
    const report = await p.handle.result(); // the server skips the wait between checks
    expect(report).toMatchObject({ outcome: 'CLOSED', exitReason: 'TIME_LIMIT' });
    const held = report.at - open.openedAt;
    expect(held).toBeGreaterThanOrEqual(maxHoldSeconds * 1000);
    expect(held).toBeLessThan(maxHoldSeconds * 1000 + CHECK_MS + 2_000);
  });

  it('an exit that expires unfilled is resent under the next id', async () => {
    const p = await start(100);
    await p.reach('OPEN');
    t.venue.exitsToExpire = 1;
    await p.handle.signal(closePositionSignal, { reason: 'MANUAL' });
    expect(await p.handle.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'MANUAL' });
    expect(ids(p.symbol)).toEqual(['E FILLED', 'X1 EXPIRED', 'X2 FILLED']);
    expect(t.venue.amount(p.symbol)).toBe(0);
  });

  it('a stop that cannot be placed within the bound closes the position at market (PROTECTION_FAILED)', async () => {
    t.venue.stopsFail = true;
    try {
      const p = await start(100);
      const report = await p.handle.result();
      expect(report).toMatchObject({ outcome: 'CLOSED', exitReason: 'PROTECTION_FAILED' });
      const entry = t.venue.orders.get(`${p.input.orderIdStem}-E`)!;
      const exit = t.venue.orders.get(`${p.input.orderIdStem}-X1`)!;
      expect(exit.status).toBe('FILLED');
      // Tried for the whole bound, then closed at once.
      expect(exit.updateTime - entry.updateTime).toBeGreaterThanOrEqual(LIFECYCLE_TIMING.protectWithinMs);
      expect(exit.updateTime - entry.updateTime).toBeLessThan(LIFECYCLE_TIMING.protectWithinMs + 2_000);
      expect(t.venue.calls.filter((c) => c === 'placeStop').length).toBeGreaterThan(3);
      expect(t.venue.journal.some((w) => w.kind === 'riskEvent' && w.event === 'PROTECTION_FAILED' && w.symbol === p.symbol)).toBe(true);
    } finally {
      t.venue.stopsFail = false;
    }
  });

  describe('a close request is honoured in every stage', () => {
    it('before the entry was sent: nothing is sent', async () => {
      const symbol = uniqueSymbol();
      await t.venue.setPrice(symbol, 100);
      const input = inputFor(symbol, 'LONG', {});
      const handle = await t.env.client.workflow.signalWithStart(positionWorkflow, {
        workflowId: positionWorkflowId(input.positionId),
        taskQueue: t.taskQueue,
        args: [input],
        signal: closePositionSignal,
        signalArgs: [{ reason: 'KILL_FLATTEN' }],
      });
      expect(await handle.result()).toMatchObject({ outcome: 'ENTRY_FAILED', detail: 'close requested before the entry was sent' });
      expect(ids(symbol)).toEqual([]);
    });

    it('while the entry is in flight: closed as soon as its exposure is known', async () => {
      const release = t.venue.holdAnswer('submitEntry');
      const p = await start(100);
      await skipUntil(t.env, async () => t.venue.amount(p.symbol) !== 0, 'the entry to execute (its answer held)', 100);
      await p.handle.signal(closePositionSignal, { reason: 'KILL_FLATTEN' });
      release();
      expect(await p.handle.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'KILL_FLATTEN' });
      expect(t.venue.amount(p.symbol)).toBe(0);
      expect(ids(p.symbol)).toEqual(['E FILLED', 'X1 FILLED']);
    });

    it('while the stop is being placed: closed at market', async () => {
      t.venue.stopsFail = true;
      try {
        const p = await start(100);
        await p.reach('PROTECTING');
        await p.handle.signal(closePositionSignal, { reason: 'KILL_FLATTEN' });
        const report = await p.handle.result();
        expect(report.outcome).toBe('CLOSED');
        expect(report.exitReason).toBe('KILL_FLATTEN');
        expect(t.venue.amount(p.symbol)).toBe(0);
      } finally {
        t.venue.stopsFail = false;
      }
    });

    it('while open: closed at market as MANUAL', async () => {
      const p = await start(100);
      await p.reach('OPEN');
      await p.handle.signal(closePositionSignal, { reason: 'MANUAL' });
      expect(await p.handle.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'MANUAL' });
      expect(ids(p.symbol)).toEqual(['E FILLED', 'X1 FILLED']);
    });

    it('while already exiting: the exit under way is the only one, with its own reason', async () => {
      const p = await start(100);
      const open = await p.reach('OPEN');
      const release = t.venue.holdAnswer('submitExit');
      await t.venue.setPrice(p.symbol, exitLevels('LONG', open.entryPrice, PARAMS).takeProfit + 0.01);
      await skipUntil(t.env, async () => t.venue.exitOrders(p.symbol).length === 1, 'the exit to execute (its answer held)', 100);
      await p.handle.signal(closePositionSignal, { reason: 'MANUAL' });
      release();
      expect(await p.handle.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'TAKE_PROFIT' });
      expect(ids(p.symbol)).toEqual(['E FILLED', 'X1 FILLED']);
    });
  });
});
