import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stopIdOf } from '../../core/position-ids.js';
import { reconcilerWorkflowId } from '../../workflows/book-contracts.js';
import { positionStateQuery, positionWorkflowId } from '../../workflows/contracts.js';
import { runQt } from '../helpers/qt-cli.js';
import { captureHistory } from './capture.js';
import { eventually, startHarness, uniqueSymbol, type Harness } from './harness.js';

/**
 * What a crash can leave behind, set up on the exchange and in the journal before any worker runs:
 * exposure nobody owns, a stop guarding nothing, and an OPEN journal row whose workflow is gone.
 */
async function leftovers(h: Harness) {
  const [untracked, stale, orphanRow] = [uniqueSymbol(), uniqueSymbol(), uniqueSymbol()];
  await Promise.all([h.setPrice(untracked, 30), h.setPrice(stale, 40), h.setPrice(orphanRow, 50)]);

  await h.exchange.prepareSymbol(untracked, 5);
  await h.exchange.placeMarketOrder({ symbol: untracked, side: 'BUY', quantity: 100 / 30, clientOrderId: 'by-hand-1', referencePrice: 30 });

  const staleStop = stopIdOf(`${stale}-gone1-1`);
  await h.exchange.placeStopOrder({ symbol: stale, side: 'SELL', type: 'STOP_MARKET', triggerPrice: 36, clientAlgoId: staleStop });

  // A position that was entered and exited on the exchange, but whose workflow died before booking the exit.
  const positionId = `${orphanRow}-gone2-1`;
  await h.exchange.prepareSymbol(orphanRow, 5);
  const entry = await h.exchange.placeMarketOrder({ symbol: orphanRow, side: 'BUY', quantity: 2, clientOrderId: 'qt-gone2-1-E', referencePrice: 50 });
  const [entryFill] = await h.exchange.tradesForOrder(orphanRow, entry.orderId);
  await h.journal.openPosition({
    positionId, workflowId: positionWorkflowId(positionId), symbol: orphanRow, side: 'LONG', quantity: entry.executedQty, entryPrice: entry.avgPrice,
    entryFee: entryFill!.commission, openedAt: entry.updateTime, stopPrice: 49.5, takeProfitPrice: 50.75,
  });
  await h.setPrice(orphanRow, 50.4);
  const exit = await h.exchange.placeMarketOrder({ symbol: orphanRow, side: 'SELL', quantity: 2, reduceOnly: true, clientOrderId: 'qt-gone2-1-X1' });
  const exitFills = await h.exchange.tradesForOrder(orphanRow, exit.orderId);
  const expectedNet = exitFills.reduce((s, f) => s + f.realizedPnl - f.commission, 0) - entryFill!.commission;
  return { untracked, stale, staleStop, orphanRow, positionId, exit, expectedNet };
}

const riskKinds = async (h: Harness, symbol: string) => (await h.journal.riskEvents(100)).filter((e) => e.symbol === symbol).map((e) => e.kind);

describe('startup reconciliation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ reconcileSeconds: 5, orphanPolicy: 'flatten' });
  });
  afterAll(async () => h?.close());

  it('cancels a stale stop, settles an OPEN row without workflow from the exchange fills, flattens untracked exposure (QT_ORPHAN_POLICY=flatten); each journaled', async () => {
    const l = await leftovers(h);
    await h.startWorker(); // the startup pass

    await eventually(async () => ((await h.exchange.positions(l.untracked))[0]?.positionAmt ?? 0) === 0, 'the untracked exposure flattened');
    await eventually(async () => (await h.exchange.getAlgoOrder(l.stale, l.staleStop))?.status === 'CANCELED', 'the stale stop cancelled');
    const row = await eventually(async () => {
      const r = await h.journal.getPosition(l.positionId);
      return r?.status === 'CLOSED' ? r : null;
    }, 'the orphaned row settled');
    expect(row.exitReason).toBe('RECONCILED');
    expect(row.exitPrice).toBeCloseTo(l.exit.avgPrice, 8);
    expect(row.netPnl).toBeCloseTo(l.expectedNet, 8);
    expect((await h.journal.fillsForPosition(l.positionId)).length).toBeGreaterThan(0);

    await eventually(async () => (await riskKinds(h, l.untracked)).includes('RECONCILE_FLATTEN'), 'the flatten journaled');
    await eventually(async () => (await riskKinds(h, l.stale)).includes('RECONCILE_CANCEL_STOP'), 'the cancel journaled');
    await eventually(async () => (await riskKinds(h, l.orphanRow)).includes('RECONCILE_SETTLE_ROW'), 'the settlement journaled');

    // On demand: a pass now finds everything owned, protected and journaled.
    const result = await runQt(['reconcile'], { TEMPORAL_ADDRESS: inject('temporalAddress'), QT_TASK_QUEUE: h.taskQueue });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/reconciliation pass \d+/);
    expect(result.stdout).toMatch(/nothing to do/);
    await captureHistory(reconcilerWorkflowId(h.taskQueue), 'reconciler-startup');
  }, 120_000);
});

// Needs the position workflow's adoption mode (money-core); runs once it is merged.
describe('startup reconciliation adopting (QT_ORPHAN_POLICY=adopt)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ reconcileSeconds: 5, orphanPolicy: 'adopt' });
  });
  afterAll(async () => h?.close());

  it('adopts untracked exposure with a stop, cancels the stale stop and settles the orphaned row', async () => {
    const l = await leftovers(h);
    const amt = (await h.exchange.positions(l.untracked))[0]!.positionAmt;
    await h.startWorker();

    const owner = await eventually(async () => {
      for await (const wf of h.client.workflow.list({ query: `WorkflowType = 'positionWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${h.taskQueue}'` })) {
        if (wf.workflowId.startsWith(positionWorkflowId(`${l.untracked}-`))) return wf.workflowId;
      }
      return null;
    }, 'a position workflow adopting the exposure');
    const adopted = await h.client.workflow.getHandle(owner).query(positionStateQuery);
    expect(adopted.adopt?.quantity).toBeCloseTo(amt, 10);
    await eventually(async () => (await h.exchange.openAlgoOrders(l.untracked)).some((a) => a.clientAlgoId === `${adopted.orderIdStem}-S`), 'a stop on the adopted exposure');
    expect((await h.exchange.positions(l.untracked))[0]!.positionAmt).toBe(amt);
    await eventually(async () => (await h.exchange.getAlgoOrder(l.stale, l.staleStop))?.status === 'CANCELED', 'the stale stop cancelled');
    await eventually(async () => (await h.journal.getPosition(l.positionId))?.status === 'CLOSED', 'the orphaned row settled');
    await eventually(async () => (await riskKinds(h, l.untracked)).includes('RECONCILE_ADOPT'), 'the adoption journaled');
  }, 120_000);
});
