import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killSignal, symbolWorkflowId } from '../../workflows/contracts.js';
import { eventually, startHarness, uniqueSymbol, type Harness } from './harness.js';

/**
 * The loop's rules (HOLD and the threshold, the cooldown, kill / flatten / resume, config updates,
 * continue-as-new) are tested in skipped time in test/workflows/symbol-loop.test.ts. What needs a real
 * server stays here: a kill the server accepts while no worker runs.
 */
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
