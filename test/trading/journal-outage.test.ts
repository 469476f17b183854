import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closePositionSignal } from '../../workflows/contracts.js';
import { startRestartablePostgres, type RestartablePostgres } from '../helpers/restartable-postgres.js';
import { captureHistory } from './capture.js';
import { eventually, startHarness, uniqueSymbol, type Harness } from './harness.js';
import { exchangeView, expectBooksMatchExchange, reachStage, startPosition, type StartedPosition } from './positions.js';
import { sleep } from '../../infra/sleep.js';


/**
 * Protect first, journal after: with Postgres stopped for 10 s right after entries fill, the stops still
 * go on within seconds, exits still happen, no workflow fails, and once Postgres is back the journal holds
 * every order, fill and position exactly once.
 */
describe('Postgres outage around entry fills', () => {
  let pg: RestartablePostgres;
  let h: Harness;
  beforeAll(async () => {
    pg = await startRestartablePostgres();
    h = await startHarness({ databaseUrl: pg.url });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
    await pg?.destroy();
  });

  /** Seconds between the position's entry fill and its stop's creation, as the exchange recorded them. */
  async function stopDelayMs(p: StartedPosition): Promise<number> {
    const ex = await exchangeView(h, p.symbol);
    const stop = ex.stops.find((s) => s.clientAlgoId === `${p.orderIdStem}-S`)!;
    return stop.createTime - ex.fills[0]!.time;
  }

  it('stops go on within 5 s of every fill, no workflow fails, and the journal is complete afterwards', async () => {
    const before = uniqueSymbol();
    const during = uniqueSymbol();
    await h.setPrice(before, 50);
    await h.setPrice(during, 100);

    // One fill lands, and Postgres goes down right after it.
    const first = await startPosition(h, before, { side: 'SHORT' });
    await eventually(async () => (await exchangeView(h, before)).fills.length > 0, 'the first entry to fill', 30_000);
    await pg.stop();
    const downAt = Date.now();

    // Another position enters, protects itself and takes profit while the journal is away.
    const second = await startPosition(h, during);
    const open = await reachStage(second, 'OPEN');
    await h.setPrice(during, Number((open.takeProfitPrice! * 1.001).toFixed(2)));
    await eventually(async () => (await exchangeView(h, during)).positionAmt === 0, 'the take profit to execute during the outage', 30_000);
    await reachStage(first, 'OPEN');

    await sleep(Math.max(0, downAt + 10_000 - Date.now()));
    await pg.start();

    await first.handle.signal(closePositionSignal, { reason: 'MANUAL' });
    expect(await second.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'TAKE_PROFIT' });
    expect(await first.result()).toMatchObject({ outcome: 'CLOSED', exitReason: 'MANUAL' });
    for (const p of [first, second]) {
      expect((await p.handle.describe()).status.name).toBe('COMPLETED');
      expect(await stopDelayMs(p)).toBeLessThanOrEqual(5_000);
      // Every order once, every fill once, the P&L of the exchange.
      await expectBooksMatchExchange(h, p);
      const orders = (await h.journal.orders({ symbol: p.symbol, limit: 10 })).map((o) => o.clientOrderId).sort();
      expect(orders).toEqual([`${p.orderIdStem}-E`, `${p.orderIdStem}-S`, `${p.orderIdStem}-X1`]);
    }
    await captureHistory(second.handle.workflowId, 'position-lifecycle-journal-outage');
  }, 180_000);
});
