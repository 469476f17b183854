import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitLevels } from '../../core/exits.js';
import { TEST_PARAMS, eventually, startHarness, uniqueSymbol, type Harness } from './harness.js';
import { exchangeView, expectBooksMatchExchange, expectOwnedAndProtected, startPosition } from './positions.js';

const quiet = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: (m: string) => console.error(m) };

/**
 * Deployments have position workflows running on the earlier code. After an upgrade such a workflow
 * replays on the new worker unchanged, then hands its open position over to the lifecycle at its next check.
 */
describe('a position started by the earlier position workflow', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('replays on the new code and is run by the lifecycle from its next check on', async () => {
    const earlier = await bundleWorkflowCode({ workflowsPath: path.join(import.meta.dirname, 'workflows', 'earlier-position.ts'), logger: quiet });
    await h.startWorker(earlier);
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 100);
    const p = await startPosition(h, symbol);
    const before = await eventually(async () => {
      const s = (await p.state()) as unknown as { stage: string; version?: number; entryPrice: number };
      return s.stage === 'OPEN' ? s : null;
    }, 'the earlier workflow to open the position');
    expect(before.version).toBeUndefined();

    await h.stopWorker();
    await h.startWorker();
    const after = await eventually(async () => {
      const s = await p.state();
      return s.version === 2 ? s : null;
    }, 'the hand-over to the lifecycle');
    expect(after.stage).toBe('OPEN');
    await expectOwnedAndProtected(h, p);

    expect(after.takeProfitPrice).toBeCloseTo(exitLevels('LONG', before.entryPrice, TEST_PARAMS).takeProfit, 8);
    await h.setPrice(symbol, Number((after.takeProfitPrice! * 1.001).toFixed(2)));
    expect(await p.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'TAKE_PROFIT' });
    const ex = await exchangeView(h, symbol);
    expect(ex.orders.map((o) => o.clientOrderId)).toEqual([`${p.orderIdStem}-E`, `${p.orderIdStem}-X1`]);
    expect(ex.stops.map((s) => s.algoStatus)).toEqual(['CANCELED']);
    await expectBooksMatchExchange(h, p);
  }, 120_000);
});
