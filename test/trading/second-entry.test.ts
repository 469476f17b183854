import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_TIMING } from '../../core/position-lifecycle.js';
import { closePositionSignal } from '../../workflows/contracts.js';
import { eventually, startHarness, uniqueSymbol, type Harness } from './harness.js';
import { exchangeView, expectBooksMatchExchange, expectOwnedAndProtected, reachStage, setFaults, startPosition, type StartedPosition } from './positions.js';
import { sleep } from '../../infra/sleep.js';


/**
 * Defect 6: an entry request whose answer is lost can execute seconds later, and Binance accepts a reused
 * client id once the first order is no longer open; an attempt asleep in the adapter's rate-limit wait can
 * wake after it was given up. Neither may ever produce a second entry: the lifecycle never resends an entry
 * of unknown outcome, and a request may leave the worker only inside its send window.
 */
describe('no second entry', () => {
  let h: Harness;
  // The adapter's weight budget follows this clock's minutes, so the test can end a minute at will.
  const clock = { skewMs: 0 };
  const serverNow = () => Date.now() + clock.skewMs;
  beforeAll(async () => {
    h = await startHarness({ adapter: { weightLimitPerMinute: 2400, serverClock: serverNow } });
    await h.startWorker();
    // The local exchange must not rate limit the burst this test makes: only the adapter's own wait matters.
    await setFaults(h, { weightLimitPerMinute: 1_000_000 });
  });
  afterAll(async () => h?.close());

  const lateLog = async (): Promise<{ clientId: string | null; outcome: string }[]> =>
    ((await (await fetch(`${h.localExchange.baseUrl}/admin/state`)).json()) as { lateExecutions: { clientId: string | null; outcome: string }[] }).lateExecutions;

  async function expectExactlyOneEntryFill(p: StartedPosition): Promise<void> {
    const ex = await exchangeView(h, p.symbol);
    const entries = ex.orders.filter((o) => o.clientOrderId.startsWith(`${p.orderIdStem}-E`));
    expect(entries).toHaveLength(1);
    expect(ex.fills).toHaveLength(1);
    await eventually(async () => (await h.journal.getPosition(p.positionId))?.quantity === Math.abs(ex.positionAmt), 'the journal to hold the exchange quantity');
  }

  it('entries whose answers are lost and that execute 0-15 s later, and an attempt woken past its window, fill once at most', async () => {
    // Late executions: each entry request is dropped and executed by the exchange `delayMs` later.
    const late: StartedPosition[] = [];
    for (const delayMs of [0, 5_000, 15_000]) {
      const symbol = uniqueSymbol();
      await h.setPrice(symbol, 100);
      await setFaults(h, { lateExecution: { count: 1, delayMs } });
      const p = await startPosition(h, symbol);
      await eventually(async () => (await lateLog()).some((l) => l.clientId === `${p.orderIdStem}-E`), `${symbol}'s entry to be taken for late execution`);
      late.push(p);
    }
    for (const p of late) {
      await reachStage(p, 'OPEN', 40_000);
      await expectOwnedAndProtected(h, p);
      await expectExactlyOneEntryFill(p);
    }

    // The rate-limit wait: use up the adapter's budget for this minute, then enter. The attempt sleeps in the
    // adapter before sending; its activity times out, and the lifecycle treats its outcome as unknown.
    // Start at the top of a minute, so the budget cannot renew by itself before the attempt is given up
    // (from a random point in the minute the wait could end early and the attempt send inside its window).
    clock.skewMs += 60_000 - (serverNow() % 60_000) + 50;
    for (;;) {
      const call = h.exchange.markPrices();
      const blocked = await Promise.race([call.then(() => false), sleep(1_000).then(() => true)]);
      if (blocked) break;
    }
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 100);
    const asleep = await startPosition(h, symbol);
    const sentAt = Date.now();
    await eventually(async () => (await asleep.state()).orders[0]?.status === 'UNKNOWN', 'the sleeping attempt to be given up', 40_000);
    await sleep(Math.max(0, sentAt + LIFECYCLE_TIMING.sendWindowMs + 2_000 - Date.now()));
    // A new minute: the sleeping attempt wakes, finds its send window closed and sends nothing.
    clock.skewMs += 60_000 - (serverNow() % 60_000) + 50;
    await sleep(3_000);
    expect((await exchangeView(h, symbol)).orders).toEqual([]);
    expect(await asleep.result()).toMatchObject({ outcome: 'ENTRY_FAILED', detail: `the exchange never showed order ${asleep.orderIdStem}-E` });
    expect((await exchangeView(h, symbol)).orders).toEqual([]);

    for (const p of late) {
      await p.handle.signal(closePositionSignal, { reason: 'MANUAL' });
      expect(await p.result()).toMatchObject({ outcome: 'CLOSED' });
      await expectBooksMatchExchange(h, p);
    }
  }, 240_000);
});
