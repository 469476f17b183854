import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TradingParams } from '../../core/params.js';
import { entryExitDistances, exitLevels } from '../../core/exits.js';
import type { PositionLifecycle } from '../../core/position-lifecycle.js';
import {
  closePositionSignal,
  configUpdate,
  killSignal,
  positionStateQuery,
  positionWorkflowId,
  resumeSignal,
  symbolStateQuery,
  symbolWorkflowId,
  type SymbolWorkflowInput,
} from '../../workflows/contracts.js';
import { MAX_EVENTS_PER_LOOP_RUN } from '../../workflows/run-length.js';
import type { positionWorkflow } from '../../workflows/position.js';
import { symbolWorkflow } from '../../workflows/symbol.js';
import { captureHistoryOf } from '../trading/capture.js';
import { endLoops, PARAMS, resultBySteps, skipUntil, startTestbed, uniqueSymbol, type WorkflowTestbed } from './setup.js';

/**
 * The symbol loop's rules on Temporal's time-skipping test server: the real workflow code (and its real
 * position children) with the activities modelled in memory, the production 15 s interval and 180 s
 * cooldown, and time measured in workflow time, so every bound is exact.
 */
// Each test skips minutes of workflow time in steps; on a loaded machine a step costs real time too.
describe('symbol loop (time skipping)', { timeout: 180_000 }, () => {
  let t: WorkflowTestbed;
  beforeAll(async () => {
    t = await startTestbed();
  });
  afterAll(async () => t?.close());
  const loops: string[] = [];
  afterEach(async () => endLoops(t.env, loops.splice(0)));

  const INTERVAL_MS = PARAMS.checkIntervalSeconds * 1000;
  /**
   * Skips about a quarter of an interval at a time: assertions use the times the loop recorded, not the step. Not
   * exactly a quarter: a timer started by a signal sent between steps would then fall due just after a later step
   * ends (the position's 5 s and the loop's 15 s are whole numbers of steps), when the test or a position's report
   * may signal again: a signal meeting a firing timer trips the test server's bug (setup.ts). No multiple of this
   * step up to 30 comes within 160 ms of a multiple of 5 s.
   */
  const STEP_MS = 3_387;
  const skip = <T>(probe: () => Promise<T | null | undefined | false>, what: string) => skipUntil(t.env, probe, what, STEP_MS);

  async function startLoop(symbol: string, price: number, params: Partial<TradingParams> = {}, extra: Partial<SymbolWorkflowInput> = {}) {
    await t.venue.setPrice(symbol, price);
    loops.push(symbol);
    return t.env.client.workflow.start(symbolWorkflow, {
      workflowId: symbolWorkflowId(symbol),
      taskQueue: t.taskQueue,
      args: [{ symbol, params: { ...PARAMS, ...params }, flags: { aiTradingEnabled: true, executionEnabled: true }, ...extra }],
    });
  }
  const state = (symbol: string) => t.env.client.workflow.getHandle(symbolWorkflowId(symbol)).query(symbolStateQuery);
  const decisions = (symbol: string) => t.venue.decisions.filter((d) => d.symbol === symbol);
  const entriesSent = (symbol: string) => [...t.venue.orders.values()].filter((o) => o.symbol === symbol && /-E\d*$/.test(o.clientOrderId));
  const openPosition = (symbol: string) =>
    skip(async () => {
      const id = (await state(symbol)).openPositionId;
      if (!id) return null;
      const p = await t.env.client.workflow.getHandle(positionWorkflowId(id)).query(positionStateQuery);
      return p.state.stage === 'OPEN' ? id : null;
    }, `${symbol} to hold an open position`);
  const positionResult = (positionId: string) => resultBySteps<typeof positionWorkflow>(t.env, positionWorkflowId(positionId), STEP_MS);
  const closePosition = async (positionId: string) => {
    await t.env.client.workflow.getHandle(positionWorkflowId(positionId)).signal(closePositionSignal, { reason: 'MANUAL' });
    return positionResult(positionId);
  };

  it('QT_EXIT_MODE=atr: the entry fixes its exits from the signal\'s ATR into the position (its stop and take-profit levels), and nothing is entered without it', async () => {
    const params = { exitMode: 'atr' as const, takeProfitAtr: 3, stopLossAtr: 2, trailingStopAtr: 1.2, trailingActivationAtr: 1.6 };
    const without = uniqueSymbol();
    t.venue.signals.set(without, 'BUY', 0.8);
    await startLoop(without, 20, params);
    await skip(async () => decisions(without).filter((d) => d.decision === 'NO_EXIT_DISTANCES').length >= 2, '2 ticks refused for want of an ATR');
    expect(entriesSent(without)).toEqual([]);

    const symbol = uniqueSymbol();
    t.venue.signals.set(symbol, 'BUY', 0.8, 0.004);
    await startLoop(symbol, 20, params);
    const positionId = await openPosition(symbol);
    t.venue.signals.set(symbol, 'HOLD', 0.9);
    const position = await t.env.client.workflow.getHandle(positionWorkflowId(positionId)).query(positionStateQuery);
    const exits = entryExitDistances({ ...PARAMS, ...params }, 0.004)!;
    expect(position.exits).toEqual(exits);
    expect(exits.stopLossPct).toBeCloseTo(0.8, 12); // 2 x 0.4 %, not QT_STOP_LOSS_PCT's 1 %
    const lc = position.state as PositionLifecycle;
    const levels = exitLevels('LONG', lc.entryPrice!, exits);
    expect(lc.stopPrice).toBeCloseTo(levels.stopLoss, 10);
    expect(lc.takeProfitPrice).toBeCloseTo(levels.takeProfit, 10);
    expect(await closePosition(positionId)).toMatchObject({ outcome: 'CLOSED', exitReason: 'MANUAL' });
  });

  it('never enters on HOLD or below the threshold, and journals every tick', async () => {
    const symbol = uniqueSymbol();
    t.venue.signals.set(symbol, 'HOLD', 0.95);
    await startLoop(symbol, 10);
    await skip(async () => decisions(symbol).length >= 4, '4 ticks');
    t.venue.signals.set(symbol, 'BUY', 0.54); // the threshold is 0.55
    await skip(async () => decisions(symbol).filter((d) => d.decision === 'BELOW_THRESHOLD').length >= 4, '4 below-threshold ticks');
    expect(new Set(decisions(symbol).map((d) => d.decision))).toEqual(new Set(['HOLD', 'BELOW_THRESHOLD']));
    // One tick per interval, every one journaled under its own sequence number.
    const seqs = decisions(symbol).map((d) => d.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const ats = decisions(symbol).map((d) => d.at!);
    // Ticks keep a fixed cadence (a clock read lags its due time by the worker's own latency).
    for (let i = 1; i < ats.length; i++) expect(Math.abs(ats[i]! - ats[i - 1]! - INTERVAL_MS)).toBeLessThan(INTERVAL_MS / 2);
    expect(entriesSent(symbol)).toEqual([]);
    expect((await state(symbol)).openPositionId).toBeNull();
  });

  it('under QT_ORPHAN_POLICY=flatten leaves unowned exposure to reconciliation: no adoption, no entry until the symbol is flat', async () => {
    const symbol = uniqueSymbol();
    t.venue.signals.set(symbol, 'BUY', 0.8);
    t.venue.unowned.set(symbol, { positionAmt: 2, orphanPolicy: 'flatten' });
    const handle = await startLoop(symbol, 10);
    const looks = () => t.venue.ownershipReads.filter((s) => s === symbol).length;
    await skip(async () => looks() >= 3, 'the loop to look for the owner three times');
    expect(entriesSent(symbol)).toEqual([]);
    expect((await state(symbol)).openPositionId).toBeNull();
    // Reconciliation flattened it: the loop owns nothing and trades again.
    t.venue.unowned.delete(symbol);
    const opened = await openPosition(symbol);
    expect(opened).not.toContain('rc');
    expect(entriesSent(symbol)).toHaveLength(1);
    await captureHistoryOf(handle, 'symbol-orphan-left-to-reconciliation');
    await closePosition(opened);
  });

  it('blocks re-entry for exactly the cooldown after an exit, counted from the exit in workflow time', async () => {
    const symbol = uniqueSymbol();
    t.venue.signals.set(symbol, 'BUY', 0.8);
    await startLoop(symbol, 20);
    const first = await openPosition(symbol);
    const report = await closePosition(first);
    expect(report.exitReason).toBe('MANUAL');
    const afterExit = await skip(async () => {
      const s = await state(symbol);
      return s.openPositionId === null && s.lastExit ? s : null;
    }, 'the exit report');
    expect(afterExit.lastExit!.at).toBe(report.at);
    expect(afterExit.cooldownUntil - report.at).toBe(PARAMS.cooldownSeconds * 1000);
    const second = await openPosition(symbol);
    expect(second).not.toBe(first);
    const after = decisions(symbol).filter((d) => d.at! > report.at);
    const reentry = after.find((d) => d.decision === 'ENTER')!;
    // Every tick inside the cooldown said so; the first tick at or after its end entered.
    expect(new Set(after.slice(0, after.indexOf(reentry)).map((d) => d.decision))).toEqual(new Set(['COOLDOWN']));
    expect(reentry.at!).toBeGreaterThanOrEqual(afterExit.cooldownUntil);
    expect(reentry.at! - afterExit.cooldownUntil).toBeLessThan(INTERVAL_MS);
  });

  it('kill stops entries, kill --flatten closes the open position, resume trades again', async () => {
    const symbol = uniqueSymbol();
    t.venue.signals.set(symbol, 'HOLD', 0.9);
    const wf = await startLoop(symbol, 30, { cooldownSeconds: 0 });
    await wf.signal(killSignal, { flatten: false, reason: 'test kill' });
    await skip(async () => (await state(symbol)).killed, 'the kill');
    t.venue.signals.set(symbol, 'BUY', 0.9);
    await skip(async () => decisions(symbol).filter((d) => d.decision === 'KILLED').length >= 5, 'five KILLED ticks');
    expect(entriesSent(symbol)).toEqual([]);
    expect((await state(symbol)).phase).toBe('KILLED');

    await wf.signal(resumeSignal);
    const position = await openPosition(symbol);
    await wf.signal(killSignal, { flatten: true, reason: 'flatten test' });
    const report = await positionResult(position);
    expect(report.exitReason).toBe('KILL_FLATTEN');
    expect(t.venue.amount(symbol)).toBe(0);
    const killedAt = decisions(symbol).length;
    await skip(async () => decisions(symbol).length >= killedAt + 5, 'five more ticks');
    expect(entriesSent(symbol)).toHaveLength(1); // killed: no re-entry despite BUY
    await wf.signal(resumeSignal);
    await skip(async () => entriesSent(symbol).length === 2, 're-entry after resume');
    await captureHistoryOf(wf, 'symbol-kill-flatten-resume');
    await captureHistoryOf(t.env.client.workflow.getHandle(positionWorkflowId(position)), 'position-kill-flatten');
  });

  it('applies a valid config update from the next tick and rejects an invalid one with the reason', async () => {
    const symbol = uniqueSymbol();
    t.venue.signals.set(symbol, 'BUY', 0.6);
    const wf = await startLoop(symbol, 40, { confidenceThreshold: 0.7 });
    await skip(async () => decisions(symbol).some((d) => d.decision === 'BELOW_THRESHOLD'), 'below threshold at 0.7');
    const rejected = await wf.executeUpdate(configUpdate, { args: [{ params: { confidenceThreshold: 7 } }] }).catch((e: Error) => e);
    expect((rejected as Error & { cause?: Error }).cause?.message).toMatch(/confidenceThreshold must be between 0.34 and 1/);
    expect((await state(symbol)).params.confidenceThreshold).toBe(0.7);
    const applied = await wf.executeUpdate(configUpdate, { args: [{ params: { confidenceThreshold: '0.58' } }] });
    expect(applied.params.confidenceThreshold).toBe(0.58);
    await openPosition(symbol);
    expect(decisions(symbol).map((d) => d.decision)).toContain('ENTER');
  });

  it('a quiet pass is one local activity in history: its clock, signal and journaled decision', async () => {
    const symbol = uniqueSymbol();
    t.venue.signals.set(symbol, 'HOLD', 0.9);
    const handle = await startLoop(symbol, 50);
    // Five decisions: the passes of the second to the fourth have certainly finished (the fifth began after them).
    await skip(async () => decisions(symbol).length >= 5, '5 decisions');
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    // Local-activity markers of each pass a timer started (from the timer firing to the next timer): one each
    // (it was three: clock read, signal, journal).
    // Only passes that finished (their next timer started): the last one may still be running.
    const perPass: number[] = [];
    let running: number | null = null;
    for (const e of events) {
      if (e.timerFiredEventAttributes) running = 0;
      else if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity' && running !== null) running++;
      else if (e.timerStartedEventAttributes && running !== null) {
        perPass.push(running);
        running = null;
      }
    }
    expect(perPass.length).toBeGreaterThanOrEqual(3);
    expect(perPass).toEqual(perPass.map(() => 1));
    const seqs = decisions(symbol).map((d) => d.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(decisions(symbol).every((d) => d.decision === 'HOLD' && d.at !== undefined && d.taskEvent !== undefined)).toBe(true);
    await captureHistoryOf(handle, 'symbol-quiet-passes');
  });

  it('continue-as-new loses no state, and the position child reports to the current run', async () => {
    const symbol = uniqueSymbol();
    t.venue.signals.set(symbol, 'BUY', 0.8);
    await startLoop(symbol, 60, {}, { tickCap: 3 });
    const position = await openPosition(symbol);
    const before = await state(symbol);
    await skip(async () => (await state(symbol)).runsSoFar >= before.runsSoFar + 2, 'two continue-as-new');
    const during = await state(symbol);
    expect(during.openPositionId).toBe(position);
    expect(during.instanceId).toBe(before.instanceId);
    expect(during.positionSeq).toBe(before.positionSeq);
    expect(during.tickSeq).toBeGreaterThan(before.tickSeq);
    // Each new run, and the position it started, has the fleet's short workflow task timeout (a dead worker's task is handed on sooner).
    const config = (await t.env.client.workflow.getHandle(symbolWorkflowId(symbol)).describe()).raw.executionConfig;
    expect(Number(config?.defaultWorkflowTaskTimeout?.seconds)).toBe(5);
    const positionConfig = (await t.env.client.workflow.getHandle(positionWorkflowId(position)).describe()).raw.executionConfig;
    expect(Number(positionConfig?.defaultWorkflowTaskTimeout?.seconds)).toBe(5);
    const report = await closePosition(position);
    const after = await skip(async () => {
      const s = await state(symbol);
      return s.openPositionId === null ? s : null;
    }, 'the exit report');
    expect(after.runsSoFar).toBeGreaterThan(before.runsSoFar);
    expect(after.lastExit).toMatchObject({ positionId: position, reason: 'MANUAL', at: report.at });
    expect(after.cooldownUntil - report.at).toBe(PARAMS.cooldownSeconds * 1000);
    expect(after.phase).toBe('COOLDOWN');
    // Tick numbers run on across runs: none journaled twice, none skipped.
    const seqs = decisions(symbol).map((d) => d.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    await captureHistoryOf(t.env.client.workflow.getHandle(symbolWorkflowId(symbol)), 'symbol-continue-as-new');
  });
});

// On a server of its own: it skips a minute per step, with nothing else running there meanwhile.
describe('symbol loop run length (time skipping)', { timeout: 180_000 }, () => {
  let own: WorkflowTestbed;
  beforeAll(async () => {
    own = await startTestbed();
  });
  afterAll(async () => own?.close());

  it('continues as new once a run reaches MAX_EVENTS_PER_LOOP_RUN events, so a restarted worker replays little', async () => {
    const symbol = uniqueSymbol();
    await own.venue.setPrice(symbol, 60);
    const handle = await own.env.client.workflow.start(symbolWorkflow, {
      workflowId: symbolWorkflowId(symbol),
      taskQueue: own.taskQueue,
      args: [{ symbol, params: PARAMS, flags: { aiTradingEnabled: true, executionEnabled: true } }],
    });
    const firstRun = (await handle.describe()).runId;
    // About 20 ticks: skipped a minute at a time (the server runs every tick due meanwhile), fewer steps on a busy machine.
    await skipUntil(own.env, async () => (await handle.query(symbolStateQuery)).runsSoFar >= 1, 'the first continue-as-new', 60_000);
    const first = await own.env.client.workflow.getHandle(symbolWorkflowId(symbol), firstRun).fetchHistory();
    // The run ends at the first tick boundary past the limit: one more tick's events at most.
    expect(first.events!.length).toBeGreaterThanOrEqual(MAX_EVENTS_PER_LOOP_RUN);
    expect(first.events!.length).toBeLessThan(MAX_EVENTS_PER_LOOP_RUN + 20);
    const seqs = own.venue.decisions.filter((d) => d.symbol === symbol).map((d) => d.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    await captureHistoryOf(own.env.client.workflow.getHandle(symbolWorkflowId(symbol), firstRun), 'symbol-run-of-200-events');
  });
});
