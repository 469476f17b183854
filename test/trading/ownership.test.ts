import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { riskBookQuery, riskBookWorkflowId } from '../../workflows/book-contracts.js';
import { closePositionSignal, positionStateQuery, positionWorkflowId, symbolWorkflowId, type SymbolState } from '../../workflows/contracts.js';
import { riskBookWorkflow } from '../../workflows/risk-book.js';
import { runQt } from '../helpers/qt-cli.js';
import { captureHistory } from './capture.js';
import { TEST_PARAMS, eventually, openedPosition, startHarness, uniqueSymbol, type Harness } from './harness.js';
import { sleep } from '../../infra/sleep.js';


/** The environment `qt` runs with against a harness: the fast test loop settings. */
const qtEnv = (h: Harness): Record<string, string> => ({
  TEMPORAL_ADDRESS: inject('temporalAddress'),
  QT_TASK_QUEUE: h.taskQueue,
  QT_CHECK_INTERVAL: '1',
  QT_COOLDOWN_SECONDS: '4',
  QT_POSITION_CHECK_SECONDS: '1',
});

async function entryOrders(h: Harness, symbol: string) {
  return (await h.adminState()).orders.filter((o) => o.symbol === symbol && o.clientOrderId.endsWith('-E'));
}

/** Open a position on a fresh symbol, stop buying, then terminate its position workflow (as an operator might). */
async function positionWithoutWorkflow(h: Harness, price: number) {
  const symbol = uniqueSymbol();
  await h.setPrice(symbol, price);
  h.signals.set(symbol, 'BUY', 0.9);
  await h.startSymbol(symbol, { cooldownSeconds: 600 });
  const pos = await openedPosition(h, symbol);
  h.signals.set(symbol, 'HOLD', 0.9);
  const quantity = (await h.exchange.positions(symbol))[0]!.positionAmt;
  const terminatedAt = Date.now();
  await h.client.workflow.getHandle(positionWorkflowId(pos.positionId)).terminate('operator terminated the position');
  return { symbol, pos, quantity, terminatedAt };
}

const closedRow = (h: Harness, positionId: string) =>
  eventually(async () => {
    const r = await h.journal.getPosition(positionId);
    return r?.status === 'CLOSED' ? r : null;
  }, `${positionId}'s journal row to be settled`, 45_000);

/** A harness with a running worker for the describe block it is called in. */
function useHarness(opts: Parameters<typeof startHarness>[0] = {}): () => Harness {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(opts);
    await h.startWorker();
  });
  afterAll(async () => h?.close());
  return () => h;
}

describe('one owner per symbol when the loop is started again', () => {
  const harness = useHarness();
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });

  it('a loop terminated with a position open and started again with `qt start` owns that position, opens no second, and keeps journaling', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 40);
    h.signals.set(symbol, 'BUY', 0.9);
    await h.startSymbol(symbol, { cooldownSeconds: 4 });
    const pos = await openedPosition(h, symbol);
    const before = await h.symbolState(symbol);
    await h.client.workflow.getHandle(symbolWorkflowId(symbol)).terminate('operator terminated the loop');

    const started = await runQt(['start', '--symbols', symbol], qtEnv(h));
    expect(started.stderr).toBe('');
    expect(started.stdout).toMatch(/started 1 symbol workflow/);
    const owned = await eventually(async () => {
      const s = await h.symbolState(symbol);
      return s.ownershipChecked && s.openPositionId ? s : null;
    }, 'the new run to find the live position');
    expect(owned.openPositionId).toBe(pos.positionId);
    expect(owned.instanceId).not.toBe(before.instanceId);

    // Still BUY at 0.9, yet no second entry: the loop knows it is in a position.
    const runId = (await h.client.workflow.getHandle(symbolWorkflowId(symbol)).describe()).runId;
    const newRows = async () => (await h.journal.recentSignals({ sinceMs: 600_000, symbol, limit: 1000 })).filter((r) => r.runId === runId);
    await eventually(async () => (await newRows()).length >= 3, 'the new run journaling its ticks');
    expect(new Set((await newRows()).map((r) => r.decision))).toEqual(new Set(['POSITION_OPEN']));
    expect((await newRows()).map((r) => r.seq).sort((a, b) => a - b).slice(0, 3)).toEqual([1, 2, 3]); // counted afresh, kept
    expect(await entryOrders(h, symbol)).toHaveLength(1);
    expect(Math.abs((await h.exchange.positions(symbol))[0]!.positionAmt)).toBeCloseTo(pos.state.quantity, 10);
    expect(await h.journal.riskEvents(10, 'SIGNAL_KEY_COLLISION')).toEqual([]);

    // The position reports to whichever run is current.
    h.signals.set(symbol, 'HOLD', 0.9);
    await pos.handle.signal(closePositionSignal, { reason: 'MANUAL' });
    const after = await eventually(async () => {
      const s = await h.symbolState(symbol);
      return s.openPositionId === null && s.lastExit ? s : null;
    }, 'the exit report to reach the new run');
    expect(after.lastExit!.positionId).toBe(pos.positionId);
    // ...and its capacity goes back to the risk book (delivered at the loop's next tick).
    await eventually(async () => {
      const book = await h.client.workflow.getHandle(riskBookWorkflowId(h.taskQueue)).query(riskBookQuery);
      return book.reservations.every((r) => r.symbol !== symbol) && book.released.includes(pos.positionId);
    }, 'the reservation released');
    await captureHistory(symbolWorkflowId(symbol), 'symbol-owns-running-position');
  }, 120_000);

  it('a position id that is already taken (a run from before a reset) does not fail the loop: the entry is refused and the next one goes ahead', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 45);
    h.signals.set(symbol, 'BUY', 0.9);
    // A loop continuing with a known instance id, and some workflow already holding its first position id.
    const instanceId = 'taken001';
    await h.client.workflow.start(riskBookWorkflow, { workflowId: positionWorkflowId(`${symbol}-${instanceId}-1`), taskQueue: h.taskQueue, args: [{}] });
    const state: SymbolState = {
      symbol, instanceId, params: { ...TEST_PARAMS, cooldownSeconds: 600 }, flags: { aiTradingEnabled: true, executionEnabled: true }, killed: false, killReason: null,
      cooldownUntil: 0, openPositionId: null, openPositionSide: null, positionSeq: 0, tickSeq: 0, lastSignal: null, lastDecision: null, lastExit: null, runsSoFar: 0,
    };
    await h.startSymbol(symbol, { cooldownSeconds: 600 }, { state });
    const second = `${symbol}-${instanceId}-2`;
    await eventually(async () => (await h.symbolState(symbol)).openPositionId === second, 'the next entry under the next id');
    await eventually(async () => ((await h.exchange.positions(symbol))[0]?.positionAmt ?? 0) > 0, 'its fill');
    const rows = await h.journal.recentSignals({ sinceMs: 600_000, symbol, limit: 100 });
    expect(rows.map((r) => r.decision)).toContain('ENTRY_NOT_STARTED');
    expect((await h.client.workflow.getHandle(symbolWorkflowId(symbol)).describe()).status.name).toBe('RUNNING');
    expect(await entryOrders(h, symbol)).toHaveLength(1);
  }, 120_000);

  it('kill --flatten flattens the exchange directly when the position workflow is gone', async () => {
    const { symbol, pos } = await positionWithoutWorkflow(h, 50);

    const killed = await runQt(['kill', '--symbol', symbol, '--flatten', '--reason', 'flatten drill'], qtEnv(h));
    expect(killed.code).toBe(0);
    expect(killed.stdout).toMatch(/kill \+ flatten sent to 1 symbol workflow\(s\) and 0 position workflow\(s\)/);

    await eventually(async () => ((await h.exchange.positions(symbol))[0]?.positionAmt ?? 0) === 0, 'the exchange to be flat');
    const s = await eventually(async () => {
      const st = await h.symbolState(symbol);
      return st.openPositionId === null && st.lastExit ? st : null;
    }, 'the loop to drop the position');
    expect(s.lastExit).toMatchObject({ positionId: pos.positionId, reason: 'KILL_FLATTEN' });
    expect((await closedRow(h, pos.positionId)).exitReason).toBe('KILL_FLATTEN');
    const orders = (await h.adminState()).orders.filter((o) => o.symbol === symbol);
    expect(orders.filter((o) => /-F\d+$/.test(o.clientOrderId))).toHaveLength(1);
    expect(await h.exchange.openAlgoOrders(symbol)).toEqual([]); // the dead workflow's stop is gone too
    await captureHistory(symbolWorkflowId(symbol), 'symbol-flatten-without-position-workflow');
  }, 120_000);
});

describe('reconciliation when a position workflow is terminated', () => {
  // Each pass reads all positions and all open algo orders (request weight 5 + 40, twice when something
  // needs a second look): a period much shorter would spend the local exchange's 2,400 a minute.
  const PERIOD = 5;

  describe('QT_ORPHAN_POLICY=flatten', () => {
    const harness = useHarness({ reconcileSeconds: PERIOD, orphanPolicy: 'flatten' });

    it('flattens the orphaned exposure within a period, settles its journal row and frees the loop and the reservation', async () => {
      const h = harness();
      const { symbol, pos, terminatedAt } = await positionWithoutWorkflow(h, 60);

      await eventually(async () => ((await h.exchange.positions(symbol))[0]?.positionAmt ?? 0) === 0, 'reconciliation to flatten', 45_000);
      const elapsed = Date.now() - terminatedAt;
      // A period until the next pass, the second look, the order: well inside two periods plus slack on a busy machine.
      expect(elapsed).toBeLessThan(2 * PERIOD * 1000 + 10_000);
      await eventually(async () => (await h.symbolState(symbol)).openPositionId === null, 'the loop to leave IN_POSITION', 45_000);
      expect((await closedRow(h, pos.positionId)).exitReason).toBe('ORPHAN_FLATTEN');
      await eventually(async () => (await h.client.workflow.getHandle(riskBookWorkflowId(h.taskQueue)).query(riskBookQuery)).reservations.length === 0, 'the reservation to be released', 45_000);
      // Each action is journaled as a risk event once its pass ends.
      await eventually(async () => (await h.journal.riskEvents(50)).some((e) => e.symbol === symbol && e.kind === 'RECONCILE_FLATTEN'), 'the flatten journaled as a risk event');
      expect(await h.exchange.openAlgoOrders(symbol)).toEqual([]);
      expect(await entryOrders(h, symbol)).toHaveLength(1);
    }, 120_000);
  });

  // Needs the position workflow's adoption mode (money-core); runs once it is merged.
  describe('QT_ORPHAN_POLICY=adopt', () => {
    const harness = useHarness({ reconcileSeconds: PERIOD, orphanPolicy: 'adopt' });

    it('a new owner adopts the exposure within a period: protected by its own stop, the old stop cancelled, the old row handed over', async () => {
      const h = harness();
      const { symbol, pos, quantity, terminatedAt } = await positionWithoutWorkflow(h, 70);

      const owner = await eventually(async () => {
        const s = await h.symbolState(symbol);
        return s.openPositionId && s.openPositionId !== pos.positionId ? s.openPositionId : null;
      }, 'the loop to adopt the exposure', 45_000);
      expect(Date.now() - terminatedAt).toBeLessThan(2 * PERIOD * 1000 + 10_000);
      // The loop names its new position before the child's start is recorded: the query waits for the workflow.
      const adopted = await eventually(
        () => h.client.workflow.getHandle(positionWorkflowId(owner)).query(positionStateQuery),
        'the adopting position workflow to exist',
        15_000,
      );
      expect(adopted.adopt?.quantity).toBeCloseTo(Math.abs(quantity), 10);
      await eventually(async () => {
        const stops = await h.exchange.openAlgoOrders(symbol);
        return stops.length === 1 && stops[0]!.clientAlgoId.startsWith(adopted.orderIdStem) ? stops : null;
      }, 'exactly the new owner\'s stop on the exchange', 45_000);
      expect((await h.exchange.positions(symbol))[0]!.positionAmt).toBe(quantity);
      expect(await entryOrders(h, symbol)).toHaveLength(1);
      expect((await closedRow(h, pos.positionId)).exitReason).toBe('ADOPTED');
      await sleep(PERIOD * 1000 * 2);
      expect((await h.symbolState(symbol)).openPositionId).toBe(owner); // stable: no second adoption
    }, 120_000);
  });
});
