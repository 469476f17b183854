import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { ExchangeError } from '../../exchange/errors.js';
import { StateStore } from '../../exchange/sim/store.js';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import { FIXTURE_DIR, FIXTURE_START, ManualClock, adapterFor, failure, manualExchange, setFaults, setPrice, tempDir } from './helpers.js';
import { sleep } from '../../infra/sleep.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function manual(extra: Parameters<typeof manualExchange>[0] = {}): Promise<Awaited<ReturnType<typeof manualExchange>>> {
  const m = await manualExchange(extra);
  cleanups.push(m.cleanup);
  await m.adapter.prepareSymbol('ETHUSDT', 10);
  return m;
}

interface AdminState {
  lateExecutions: Array<{ clientId: string | null; outcome: string }>;
  orders: Array<{ clientOrderId: string; status: string; executedQty: string }>;
}
const adminState = async (ex: LocalExchange): Promise<AdminState> => (await fetch(`${ex.baseUrl}/admin/state`)).json() as Promise<AdminState>;
const waitFor = async (check: () => Promise<boolean>, ms = 5_000): Promise<void> => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) if (await check()) return;
  throw new Error('condition not met in time');
};
const eth = (clientOrderId: string, quantity = 0.01, extra: { reduceOnly?: boolean; side?: 'BUY' | 'SELL' } = {}) =>
  ({ symbol: 'ETHUSDT', side: extra.side ?? 'BUY', quantity, referencePrice: 3_000, clientOrderId, ...(extra.reduceOnly ? { reduceOnly: true } : {}) }) as const;

describe('lateExecution', () => {
  it('drops the connection, executes the order later, and persists it like any other', async () => {
    const { ex, adapter, stateFile } = await manual();
    await setFaults(ex, { lateExecution: { count: 1, delayMs: 300 } });
    const err = (await failure(adapter.placeMarketOrder(eth('late-1')))) as ExchangeError;
    expect(err.kind).toBe('unknown');
    // Not executed yet: the client id is unknown.
    expect(await adapter.getOrder('ETHUSDT', 'late-1')).toBeNull();
    await waitFor(async () => (await adapter.getOrder('ETHUSDT', 'late-1')) !== null);
    expect(await adapter.getOrder('ETHUSDT', 'late-1')).toMatchObject({ status: 'FILLED', executedQty: 0.01 });
    expect((await adminState(ex)).lateExecutions).toEqual([expect.objectContaining({ clientId: 'late-1', outcome: 'executed' })]);
    const onDisk = StateStore.load(stateFile)!.state;
    expect(onDisk.orders.map((o) => o.clientOrderId)).toContain('late-1');
  });

  it('a resend after the first attempt was lost, then the late original: both fill (Binance accepts a filled id again)', async () => {
    const { ex, adapter } = await manual();
    await setFaults(ex, { lateExecution: { count: 1, delayMs: 300 } });
    await failure(adapter.placeMarketOrder(eth('entry-1')));
    // The caller looked the id up, found nothing, and sent again.
    expect(await adapter.getOrder('ETHUSDT', 'entry-1')).toBeNull();
    const resend = await adapter.placeMarketOrder(eth('entry-1'));
    await waitFor(async () => (await adminState(ex)).lateExecutions[0]!.outcome !== 'pending');
    expect((await adminState(ex)).orders.filter((o) => o.clientOrderId === 'entry-1').map((o) => o.status)).toEqual(['FILLED', 'FILLED']);
    expect((await adapter.positions('ETHUSDT'))[0]!.positionAmt).toBe(0.02);
    // GET by client id answers the newest order with that id.
    expect((await adapter.getOrder('ETHUSDT', 'entry-1'))!.orderId).toBeGreaterThan(resend.orderId);
  });

  it('the late order obeys the rules in force when it runs: a reduce-only close with no position left is refused', async () => {
    const { ex, adapter } = await manual();
    await adapter.placeMarketOrder(eth('open-1'));
    await setFaults(ex, { lateExecution: { count: 1, delayMs: 300 } });
    await failure(adapter.placeMarketOrder(eth('close-late', 0.01, { side: 'SELL', reduceOnly: true })));
    await adapter.placeMarketOrder(eth('close-now', 0.01, { side: 'SELL', reduceOnly: true }));
    await waitFor(async () => (await adminState(ex)).lateExecutions[0]!.outcome !== 'pending');
    expect((await adminState(ex)).lateExecutions[0]!.outcome).toMatch(/^refused -2022/);
    expect(await adapter.getOrder('ETHUSDT', 'close-late')).toBeNull();
    expect(await adapter.positions('ETHUSDT')).toEqual([]);
  });

  it('applies to its path only (default /fapi/v1/order): set-up calls pass', async () => {
    const { ex, adapter } = await manual();
    await setFaults(ex, { lateExecution: { count: 1, delayMs: 50 } });
    await adapter.prepareSymbol('BTCUSDT', 3);
    expect(ex.engine.leverageOf('BTCUSDT')).toBe(3);
    expect(ex.faults.current().lateExecution!.count).toBe(1);
  });
});

describe('emptyPositionRead', () => {
  it('answers the next reads as if there were no positions, then the truth again', async () => {
    const { ex, adapter } = await manual();
    await adapter.placeMarketOrder(eth('pos-1'));
    await setFaults(ex, { emptyPositionRead: { count: 2 } });
    expect(await adapter.positions()).toEqual([]);
    const account = (await (await fetch(`${ex.baseUrl}/admin/state`)).json()) as { account: { positions: unknown[] } };
    expect(account.account.positions).toHaveLength(1); // the admin view is not a position read
    expect(await adapter.positions('ETHUSDT')).toEqual([]);
    expect(await adapter.positions('ETHUSDT')).toEqual([expect.objectContaining({ symbol: 'ETHUSDT', positionAmt: 0.01 })]);
  });
});

describe('partialFill', () => {
  it('EXPIRED: fills the fraction, the rest expires for good', async () => {
    const { ex, adapter } = await manual();
    await setFaults(ex, { partialFill: { count: 1, fraction: 0.5, status: 'EXPIRED' } });
    const o = await adapter.placeMarketOrder(eth('exp-1', 0.03));
    expect(o).toMatchObject({ status: 'EXPIRED', origQty: 0.03, executedQty: 0.015 });
    await setPrice(ex, 'ETHUSDT', 3_010);
    expect(await adapter.getOrder('ETHUSDT', 'exp-1')).toMatchObject({ status: 'EXPIRED', executedQty: 0.015 });
    expect((await adapter.positions('ETHUSDT'))[0]!.positionAmt).toBe(0.015);
    expect(await adapter.tradesForOrder('ETHUSDT', o.orderId)).toHaveLength(1);
    // The next order fills whole again.
    expect(await adapter.placeMarketOrder(eth('exp-2'))).toMatchObject({ status: 'FILLED' });
  });

  it('PARTIALLY_FILLED: the remainder fills at the next price, as a second trade', async () => {
    const { ex, adapter } = await manual();
    await setFaults(ex, { partialFill: { count: 1, fraction: 0.4, status: 'PARTIALLY_FILLED' } });
    const o = await adapter.placeMarketOrder(eth('part-1', 0.05));
    expect(o).toMatchObject({ status: 'PARTIALLY_FILLED', executedQty: 0.02 });
    expect((await adapter.positions('ETHUSDT'))[0]!.positionAmt).toBe(0.02);
    await setPrice(ex, 'ETHUSDT', 3_020);
    expect(await adapter.getOrder('ETHUSDT', 'part-1')).toMatchObject({ status: 'FILLED', executedQty: 0.05 });
    const trades = await adapter.tradesForOrder('ETHUSDT', o.orderId);
    expect(trades.map((t) => t.qty)).toEqual([0.02, 0.03]);
    expect(trades[1]!.price).toBeGreaterThan(3_020);
  });

  it('NEW: nothing fills; a cancel before the next price leaves it CANCELED with no trade', async () => {
    const { ex, adapter } = await manual();
    await setFaults(ex, { partialFill: { count: 1, fraction: 0, status: 'NEW' } });
    expect(await adapter.placeMarketOrder(eth('new-1'))).toMatchObject({ status: 'NEW', executedQty: 0 });
    expect(await adapter.positions('ETHUSDT')).toEqual([]);
    await adapter.cancelOrder('ETHUSDT', 'new-1');
    await setPrice(ex, 'ETHUSDT', 3_030);
    expect(await adapter.getOrder('ETHUSDT', 'new-1')).toMatchObject({ status: 'CANCELED', executedQty: 0 });
    expect(await adapter.positions('ETHUSDT')).toEqual([]);
  });

  it('a reduce-only remainder with nothing left to reduce expires', async () => {
    const { ex, adapter } = await manual();
    await adapter.placeMarketOrder(eth('long-1', 0.02));
    await setFaults(ex, { partialFill: { count: 1, fraction: 0.5, status: 'PARTIALLY_FILLED' } });
    await adapter.placeMarketOrder(eth('close-1', 0.02, { side: 'SELL', reduceOnly: true }));
    await adapter.placeMarketOrder(eth('close-2', 0.01, { side: 'SELL', reduceOnly: true }));
    await setPrice(ex, 'ETHUSDT', 2_990);
    expect(await adapter.getOrder('ETHUSDT', 'close-1')).toMatchObject({ status: 'EXPIRED', executedQty: 0.01 });
    expect(await adapter.positions('ETHUSDT')).toEqual([]);
  });

  it('in a replay, the remainder fills at the next intrabar step', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const clock = new ManualClock();
    const ex = await startLocalExchange({ port: 0, stateFile: join(tmp.dir, 's.json'), clock: clock.now, feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 1, start: FIXTURE_START + 1_000 }, intrabarStepMs: 15_000 });
    cleanups.push(() => ex.close());
    const a = adapterFor(ex);
    await setFaults(ex, { partialFill: { count: 1, fraction: 0.5, status: 'PARTIALLY_FILLED' } });
    const o = await a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.02, referencePrice: 3_000, clientOrderId: 'replay-part' });
    expect(o.status).toBe('PARTIALLY_FILLED');
    clock.advance(13_000); // still inside the first 15 s step
    expect((await a.getOrder('ETHUSDT', 'replay-part'))!.status).toBe('PARTIALLY_FILLED');
    clock.advance(2_000);
    const done = (await a.getOrder('ETHUSDT', 'replay-part'))!;
    expect(done).toMatchObject({ status: 'FILLED', executedQty: 0.02 });
    const trades = await a.tradesForOrder('ETHUSDT', o.orderId);
    expect(trades[1]!.time).toBe(FIXTURE_START + 15_000);
  });

  it('refuses malformed switches with the field named', async () => {
    const { ex } = await manual();
    const res = await fetch(`${ex.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify({ partialFill: { count: 1, fraction: 1.5, status: 'EXPIRED' } }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { msg: string }).msg).toMatch(/partialFill.fraction/);
  });
});

describe('httpError', () => {
  it('answers the next requests to a path with the given status, without executing them', async () => {
    const { ex, adapter } = await manual();
    const o = await adapter.placeMarketOrder(eth('trade-1'));
    await setFaults(ex, { httpError: { count: 1, path: '/fapi/v1/userTrades', status: 403 } });
    expect(await failure(adapter.tradesForOrder('ETHUSDT', o.orderId))).toMatchObject({ kind: 'rejected', httpStatus: 403 });
    expect(await adapter.tradesForOrder('ETHUSDT', o.orderId)).toHaveLength(1);

    await setFaults(ex, { httpError: { count: 1, path: '/fapi/v1/order', status: 401, code: -2015 } });
    expect(await failure(adapter.placeMarketOrder(eth('never-1')))).toMatchObject({ kind: 'rejected', httpStatus: 401, code: -2015 });
    expect(ex.engine.state.orders.some((x) => x.clientOrderId === 'never-1')).toBe(false);

    await setFaults(ex, { httpError: { count: 1, path: '/fapi/v1/order', status: 502 } });
    expect(await failure(adapter.getOrder('ETHUSDT', 'trade-1'))).toMatchObject({ kind: 'unknown', httpStatus: 502 });
  });
});
