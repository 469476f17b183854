import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configUpdate, killSignal, positionWorkflowId, resumeSignal, symbolWorkflowId } from '../../workflows/contracts.js';
import { eventually, openedPosition, startHarness, uniqueSymbol, type Harness } from './harness.js';
import { captureHistory } from './capture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('symbol loop', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.startWorker();
  });
  afterAll(async () => h?.close());

  const decisions = async (symbol: string) => (await h.journal.recentSignals({ sinceMs: 600_000, symbol, limit: 1000 })).map((r) => r.decision);
  const positions = async (symbol: string) => h.journal.positions({ status: 'all', symbol, limit: 100 });

  it('never trades on HOLD or below-threshold signals, and journals every tick', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 10);
    h.signals.set(symbol, 'HOLD', 0.95);
    await h.startSymbol(symbol);
    await eventually(async () => (await decisions(symbol)).length >= 3, '3 HOLD ticks');
    h.signals.set(symbol, 'BUY', 0.54); // threshold is 0.55
    await eventually(async () => (await decisions(symbol)).includes('BELOW_THRESHOLD'), 'below-threshold ticks');
    await sleep(2_500);
    const seen = await decisions(symbol);
    expect(new Set(seen)).toEqual(new Set(['HOLD', 'BELOW_THRESHOLD']));
    expect(await positions(symbol)).toHaveLength(0);
    expect((await h.adminState()).orders.filter((o) => o.symbol === symbol)).toHaveLength(0);
  });

  it('blocks re-entry for exactly the cooldown after an exit', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 20);
    h.signals.set(symbol, 'BUY', 0.8);
    await h.startSymbol(symbol, { cooldownSeconds: 5 });
    const first = await openedPosition(h, symbol);
    await h.client.workflow.getHandle(positionWorkflowId(first.positionId)).signal('closePosition', { reason: 'MANUAL' });
    await first.handle.result();
    const exitAt = (await h.symbolState(symbol)).lastExit!.at;
    const second = await openedPosition(h, symbol);
    expect(second.positionId).not.toBe(first.positionId);
    // The position row is journaled right after the stop is on, so it may trail the OPEN stage by a moment.
    const secondAt = (await eventually(() => h.journal.getPosition(second.positionId), 'the second position journaled')).openedAt.getTime();
    // Not before the cooldown ends; at most one loop interval after, plus the entry's latency: the
    // reservation in the risk book (an activity and an update) and the order.
    expect(secondAt - exitAt).toBeGreaterThanOrEqual(5_000);
    expect(secondAt - exitAt).toBeLessThan(5_000 + 1_000 + 2_500);
    expect(await decisions(symbol)).toContain('COOLDOWN');
  });

  it('kill stops entries within one interval, kill --flatten closes the position, resume trades again', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 30);
    h.signals.set(symbol, 'HOLD', 0.9);
    await h.startSymbol(symbol, { cooldownSeconds: 0 });
    const wf = h.client.workflow.getHandle(symbolWorkflowId(symbol));
    await wf.signal(killSignal, { flatten: false, reason: 'test kill' });
    await eventually(async () => (await h.symbolState(symbol)).killed, 'killed state');
    h.signals.set(symbol, 'BUY', 0.9);
    await eventually(async () => (await decisions(symbol)).includes('KILLED'), 'a KILLED decision');
    await sleep(1_500);
    expect(await positions(symbol)).toHaveLength(0);

    await wf.signal(resumeSignal);
    const pos = await openedPosition(h, symbol);
    await wf.signal(killSignal, { flatten: true, reason: 'flatten test' });
    const result = await pos.handle.result();
    expect(result.exitReason).toBe('KILL_FLATTEN');
    expect((await h.exchange.positions(symbol))[0]?.positionAmt ?? 0).toBe(0);
    await sleep(1_500);
    expect(await positions(symbol)).toHaveLength(1); // killed: no re-entry despite BUY
    await wf.signal(resumeSignal);
    await eventually(async () => (await positions(symbol)).length === 2, 're-entry after resume');
    await captureHistory(symbolWorkflowId(symbol), 'symbol-kill-flatten-resume');
    await captureHistory(pos.handle.workflowId, 'position-kill-flatten');
  });

  it('applies a config update without restart and rejects an invalid one', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 40);
    h.signals.set(symbol, 'BUY', 0.6);
    await h.startSymbol(symbol, { confidenceThreshold: 0.7 });
    const wf = h.client.workflow.getHandle(symbolWorkflowId(symbol));
    await eventually(async () => (await decisions(symbol)).includes('BELOW_THRESHOLD'), 'below threshold at 0.7');
    const rejected = await wf.executeUpdate(configUpdate, { args: [{ params: { confidenceThreshold: 7 } }] }).catch((e: Error) => e);
    expect((rejected as Error & { cause?: Error }).cause?.message).toMatch(/confidenceThreshold must be between 0.34 and 1/);
    const applied = await wf.executeUpdate(configUpdate, { args: [{ params: { confidenceThreshold: '0.58' } }] });
    expect(applied.params.confidenceThreshold).toBe(0.58);
    await openedPosition(h, symbol);
  });

  it('continue-as-new loses no state and the position child survives it', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 60);
    h.signals.set(symbol, 'BUY', 0.8);
    await h.startSymbol(symbol, { cooldownSeconds: 30 }, { tickCap: 3 });
    const pos = await openedPosition(h, symbol);
    const before = await h.symbolState(symbol);
    // Several runs later the same position is still tracked and still open.
    await eventually(async () => (await h.symbolState(symbol)).runsSoFar >= before.runsSoFar + 2, 'two continue-as-new');
    const after = await h.symbolState(symbol);
    expect(after.openPositionId).toBe(pos.positionId);
    expect(after.instanceId).toBe(before.instanceId);
    expect(after.positionSeq).toBe(before.positionSeq);
    expect(after.tickSeq).toBeGreaterThan(before.tickSeq);
    // The child reports to whichever run is current; the cooldown starts at its exit.
    await h.client.workflow.getHandle(positionWorkflowId(pos.positionId)).signal('closePosition', { reason: 'MANUAL' });
    await pos.handle.result();
    const s = await eventually(async () => {
      const st = await h.symbolState(symbol);
      return st.openPositionId === null ? st : null;
    }, 'exit report');
    expect(s.cooldownUntil - s.lastExit!.at).toBe(30_000);
    await captureHistory(symbolWorkflowId(symbol), 'symbol-continue-as-new');
    expect(s.phase).toBe('COOLDOWN');
    // Journal sequence numbers stay unique across runs: no tick was booked twice or lost.
    const rows = await h.journal.recentSignals({ sinceMs: 600_000, symbol, limit: 1000 });
    const seqs = rows.map((r) => r.seq).sort((a, b) => a - b);
    expect(new Set(seqs).size).toBe(seqs.length);
  });
});

describe('kill while no worker runs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('takes effect when a worker starts', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 5);
    h.signals.set(symbol, 'BUY', 0.9);
    await h.startSymbol(symbol); // accepted by the server, no worker yet
    await h.client.workflow.getHandle(symbolWorkflowId(symbol)).signal(killSignal, { flatten: false, reason: 'offline kill' });
    await h.startWorker();
    await eventually(async () => (await h.journal.recentSignals({ sinceMs: 60_000, symbol })).length >= 2, 'ticks after start');
    const state = await h.symbolState(symbol);
    expect(state.killed).toBe(true);
    expect(state.killReason).toBe('offline kill');
    expect(await h.journal.positions({ status: 'all', symbol })).toHaveLength(0);
  });
});
