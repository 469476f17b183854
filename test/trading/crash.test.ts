import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Worker } from '@temporalio/worker';
import { bundleWorkflows } from '../../worker/create-worker.js';
import { positionWorkflowId, symbolWorkflowId } from '../../workflows/contracts.js';
import { exitLevels } from '../../core/exits.js';
import { captureHistory } from './capture.js';
import { eventually, openedPosition, startHarness, uniqueSymbol, type Harness } from './harness.js';

/** SIGKILL the worker while an entry order is in flight and while a position is open; nothing is sent twice. */
describe('worker crash', () => {
  let h: Harness;
  let child: ChildProcess | null = null;
  const symbol = uniqueSymbol();

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await h?.close();
  });

  function spawnWorker(): Promise<ChildProcess> {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/trading/worker-process.ts'], {
      env: {
        ...process.env,
        QT_TEST_TEMPORAL: inject('temporalAddress'),
        QT_TEST_DB: h.journalUrl,
        QT_TEST_EXCHANGE: h.localExchange.baseUrl,
        QT_TEST_QUEUE: h.taskQueue,
        QT_TEST_SIGNALS: JSON.stringify({ [symbol]: ['BUY', 0.9] }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return new Promise((resolve, reject) => {
      p.stdout!.on('data', (d: Buffer) => d.toString().includes('worker ready') && resolve(p));
      p.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
    });
  }

  async function killWorker(): Promise<void> {
    const p = child!;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    child = null;
  }

  const ordersFor = async () => (await h.adminState()).orders.filter((o) => o.symbol === symbol);

  it('resumes the loop and the position after SIGKILL, without a second order', async () => {
    await h.setPrice(symbol, 80);
    // The entry order executes but its answer never reaches the worker: the worker dies waiting.
    await fetch(`${h.localExchange.baseUrl}/admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ holdResponse: { count: 1, path: '/fapi/v1/order' } }) });
    child = await spawnWorker();
    await h.startSymbol(symbol, { cooldownSeconds: 600 });
    await eventually(async () => (await ordersFor()).length === 1, 'the entry order to reach the exchange');
    await killWorker();
    h.localExchange.release();

    child = await spawnWorker();
    const pos = await openedPosition(h, symbol);
    const entries = (await ordersFor()).filter((o) => o.clientOrderId.endsWith('-E'));
    expect(entries).toHaveLength(1);
    expect(Math.abs((await h.exchange.positions(symbol))[0]!.positionAmt)).toBeCloseTo(pos.state.quantity, 10);

    // Mid-position: kill again, move the price through take profit while no worker runs, restart.
    const ticksBefore = (await h.symbolState(symbol)).tickSeq;
    await killWorker();
    const { takeProfit } = exitLevels('LONG', pos.state.entryPrice, pos.params);
    await h.setPrice(symbol, Number((takeProfit * 1.001).toFixed(2)));
    child = await spawnWorker();
    const result = await h.client.workflow.getHandle(positionWorkflowId(pos.positionId)).result();
    expect(result.exitReason).toBe('TAKE_PROFIT');
    const orders = await ordersFor();
    expect(orders.filter((o) => o.clientOrderId.includes('-X'))).toHaveLength(1);
    expect(orders.filter((o) => !o.clientOrderId.includes('-S'))).toHaveLength(2);
    await eventually(async () => (await h.symbolState(symbol)).tickSeq > ticksBefore + 2, 'the loop to tick again');
    expect((await h.journal.getPosition(pos.positionId))?.status).toBe('CLOSED');

    // Each restart met queries (the probes above) for workflows the new worker had not cached. The histories
    // the crashes produced must replay on a fresh worker: no decision may depend on a clock that differs
    // between the first run and a replay (workflows/clock.ts).
    await captureHistory(symbolWorkflowId(symbol), 'symbol-crash-trusted-clock');
    await captureHistory(positionWorkflowId(pos.positionId), 'position-crash-trusted-clock');
    const workflowBundle = await bundleWorkflows();
    for (const id of [symbolWorkflowId(symbol), positionWorkflowId(pos.positionId)]) {
      await Worker.runReplayHistory({ workflowBundle }, await h.client.workflow.getHandle(id).fetchHistory(), id);
    }
  }, 120_000);
});
