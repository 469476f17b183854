import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHED_BOOK_MEMO, riskBookQuery, riskBookWorkflowId } from '../../workflows/book-contracts.js';
import { positionWorkflowId, symbolWorkflowId } from '../../workflows/contracts.js';
import type { PublishedBook } from '../../core/risk-book.js';
import { FIXTURE_DIR, FIXTURE_START } from '../exchange/helpers.js';
import { captureHistory } from './capture.js';
import { eventually, startHarness, uniqueSymbol, type Harness } from './harness.js';
import { sleep } from '../../infra/sleep.js';


/**
 * The exchange's own open positions, read from its engine in this process: sampling every few ms
 * through the API would spend the request-weight budget the agent itself needs.
 */
function exchangePositions(h: Harness): { symbol: string; positionAmt: number; notional: number }[] {
  const engine = h.localExchange.engine;
  return Object.entries(engine.state.positions)
    .filter(([, p]) => p.amt !== 0)
    .map(([symbol, p]) => ({ symbol, positionAmt: p.amt, notional: Math.abs(p.amt) * (engine.mark(symbol) ?? 0) }));
}

/** How a refusal taken from the risk book's published copy (activities/book-copy.ts) is marked in its reason. */
const COPY_MARK = "(the risk book's published copy";

/** Samples the exchange's positions every few ms and keeps the worst moment. */
function sampleExchange(h: Harness) {
  const worst = { positions: 0, notional: 0, samples: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const open = exchangePositions(h);
      worst.positions = Math.max(worst.positions, open.length);
      worst.notional = Math.max(worst.notional, open.reduce((s, p) => s + p.notional, 0));
      worst.samples++;
      await sleep(20);
    }
  })();
  return {
    worst,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('atomic risk: an entry burst on one candle', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ risk: { maxOpenPositions: 3, maxTotalNotional: 600, maxSymbolNotional: 500, dailyLossLimit: 3 } });
    await h.startWorker();
  });
  afterAll(async () => h?.close());

  const decisions = async (of: string[]) => (await Promise.all(of.map((s) => h.journal.recentSignals({ sinceMs: 600_000, symbol: s, limit: 1000 })))).flat();

  const bookHandle = () => h.client.workflow.getHandle(riskBookWorkflowId(h.taskQueue));
  const book = () => eventually(() => bookHandle().query(riskBookQuery), 'the risk book', 60_000);
  const openOnExchange = async () => exchangePositions(h);
  const rejectedBy = (rule: string, since = 0) => async () =>
    (await decisions(symbols)).some((r) => r.decision === 'RISK_REJECTED' && r.reason?.startsWith(rule) && r.at.getTime() >= since);
  let symbols: string[] = [];

  it('30 symbols buying at 0.9 in the same tick never put more than 3 positions or 600 notional on the exchange; past the daily loss the next entry is refused', async () => {
    symbols = Array.from({ length: 30 }, () => uniqueSymbol());
    await Promise.all(symbols.map((s, i) => h.setPrice(s, 20 + i)));
    for (const s of symbols) h.signals.set(s, 'HOLD', 0.9);
    // 150 at full confidence: 133.33 at 0.9, so three positions (400) fit the notional and the count binds.
    await Promise.all(symbols.map((s) => h.startSymbol(s, { positionNotional: 150, cooldownSeconds: 600, checkIntervalSeconds: 2 })));
    await eventually(async () => new Set((await decisions(symbols)).map((r) => r.symbol)).size === 30, 'every loop ticking', 60_000);

    const sampler = sampleExchange(h);
    for (const s of symbols) h.signals.set(s, 'BUY', 0.9);
    await eventually(async () => (await openOnExchange()).length >= 3, 'three entries', 60_000);
    await eventually(rejectedBy('MAX_POSITIONS'), 'entries refused at the position count', 60_000);
    // Once the full book has published its copy, loops are refused from it without asking the book.
    await eventually(async () => (await decisions(symbols)).some((r) => r.reason?.startsWith('MAX_POSITIONS') && r.reason.includes(COPY_MARK)), 'a refusal from the book\'s copy', 60_000);
    const copy = (await bookHandle().describe()).memo?.[PUBLISHED_BOOK_MEMO] as PublishedBook;
    expect(copy.reservations).toHaveLength(3);
    // More room by count: now the total notional binds (600 - 400 leaves room for exactly one more).
    h.riskLimits.maxOpenPositions = 10;
    const raised = Date.now();
    await eventually(async () => (await openOnExchange()).length >= 4, 'a fourth entry', 60_000);
    await eventually(rejectedBy('TOTAL_NOTIONAL', raised), 'entries refused at the total notional', 60_000);
    await sleep(2_000);
    await sampler.stop();

    expect(sampler.worst.samples).toBeGreaterThan(50);
    expect(sampler.worst.positions).toBe(4);
    expect(sampler.worst.notional).toBeLessThanOrEqual(600);
    // Every entry is journaled (the fourth may still be on its way to the journal): four, never more.
    await eventually(async () => (await decisions(symbols)).filter((r) => r.decision === 'ENTER').length >= 4, 'four entries journaled');
    expect((await decisions(symbols)).filter((r) => r.decision === 'ENTER')).toHaveLength(4);
    expect((await book()).reservations).toHaveLength(4);

    // Stop-outs: the exchange-side stops fire, each loss (with both fees) reaches the book's day.
    const open = await openOnExchange();
    await Promise.all(open.map((p) => h.setPrice(p.symbol, (p.notional / Math.abs(p.positionAmt)) * 0.97)));
    await eventually(async () => (await book()).day.closed === 4, 'four stop-outs booked', 60_000);
    const after = await book();
    expect(after.reservations).toHaveLength(0);
    const journaled = (await h.journal.positions({ status: 'closed', limit: 100 })).filter((p) => symbols.includes(p.symbol));
    expect(after.day.netPnl).toBeCloseTo(journaled.reduce((s, p) => s + p.netPnl!, 0), 6);
    expect(after.day.netPnl).toBeLessThan(-3);
    // Capacity is free again, yet the 26 loops still buying are refused: the daily loss limit.
    const stoppedOut = Date.now();
    const stillBuying = symbols.filter((s) => !open.some((p) => p.symbol === s));
    const decidedSince = async () => (await decisions(stillBuying)).filter((r) => r.at.getTime() >= stoppedOut);
    await eventually(async () => new Set((await decidedSince()).map((r) => r.symbol)).size === stillBuying.length, 'every loop still buying to decide again', 60_000);
    expect(new Set((await decidedSince()).map((r) => r.reason?.split(':')[0]))).toEqual(new Set(['DAILY_LOSS']));
    expect(await openOnExchange()).toHaveLength(0);
    // The book, started by the worker, has the fleet's short workflow task timeout: a killed worker's task moves on sooner.
    const { raw } = await bookHandle().describe();
    expect(Number(raw.executionConfig?.defaultWorkflowTaskTimeout?.seconds)).toBe(5);
    // Its tasks, and the positions', are taken before the loops' when tasks queue.
    expect(raw.workflowExecutionInfo?.priority?.priorityKey).toBe(1);
    const position = (await decisions(symbols)).find((r) => r.decision === 'ENTER')!;
    const positions = await h.journal.positions({ limit: 100 });
    const child = positions.find((p) => p.symbol === position.symbol)!;
    expect((await h.client.workflow.getHandle(positionWorkflowId(child.positionId)).describe()).raw.workflowExecutionInfo?.priority?.priorityKey).toBe(2);
    // The refusals came from the copy (no reservation, no request to the book) once it was published, as the book's own would.
    const refusals = (await decisions(symbols)).filter((r) => r.decision === 'RISK_REJECTED');
    expect(refusals.filter((r) => r.reason?.includes(COPY_MARK)).length).toBeGreaterThan(refusals.length / 2);
    await captureHistory(riskBookWorkflowId(h.taskQueue), 'risk-book-published-copy');
    await captureHistory(symbolWorkflowId(stillBuying[0]!), 'symbol-refusals-from-book-copy');
  }, 300_000);
});

describe('daily loss in the venue clock (a replay of 2025 on a 2026 wall clock)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      risk: { dailyLossLimit: 0.3 },
      feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 60, start: FIXTURE_START },
      intrabarStepMs: 1_000,
    });
    // A book started before books had a priority: the worker gives it one (a new run would inherit the default).
    await h.client.workflow.start('riskBookWorkflow', { workflowId: riskBookWorkflowId(h.taskQueue), taskQueue: h.taskQueue, args: [{}] });
    await h.startWorker();
  });
  afterAll(async () => h?.close());

  it('halts entries once the replay day has lost more than the limit', async () => {
    const params = { positionNotional: 100, stopLossPct: 0.05, takeProfitPct: 50, trailingActivationPct: 50, cooldownSeconds: 0 };
    // BTC's lot step (0.001 ≈ 115) is above this notional; these three can trade 88.
    for (const s of ['ETHUSDT', 'DOGEUSDT', 'AVAXUSDC']) {
      h.signals.set(s, 'BUY', 0.9);
      await h.startSymbol(s, params);
    }
    const book = () => h.client.workflow.getHandle(riskBookWorkflowId(h.taskQueue)).query(riskBookQuery);
    expect((await h.client.workflow.getHandle(riskBookWorkflowId(h.taskQueue)).describe()).raw.workflowExecutionInfo?.priority?.priorityKey).toBe(1);
    const halted = await eventually(async () => {
      const rows = await h.journal.recentSignals({ sinceMs: 600_000, limit: 1000 });
      return rows.find((r) => r.decision === 'RISK_REJECTED' && r.reason?.startsWith('DAILY_LOSS')) ?? null;
    }, 'the daily loss limit to halt entries', 90_000);
    const b = await book();
    expect(b.day.key.startsWith('2025-08-0')).toBe(true);
    expect(b.day.netPnl).toBeLessThanOrEqual(-0.3);
    expect(halted.at.getTime()).toBeGreaterThan(Date.UTC(2026, 0, 1)); // the wall clock is far from the venue's day
    // Nothing opens after the halt: no entry decision, and the exchange holds no more than the book reserved.
    await sleep(3_000);
    const after = (await h.journal.recentSignals({ sinceMs: 600_000, limit: 1000 })).filter((r) => r.at.getTime() > halted.at.getTime());
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((r) => r.decision === 'ENTER')).toEqual([]);
    expect(exchangePositions(h).length).toBeLessThanOrEqual(b.reservations.length);
  }, 120_000);
});
