import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExchangeError } from '../../exchange/errors.js';
import { emptyState, type SimState } from '../../exchange/sim/state.js';
import { StateStore } from '../../exchange/sim/store.js';
import { startLocalExchange } from '../../exchange/sim/server.js';
import { adapterFor, failure, tempDir } from './helpers.js';
import { sleep } from '../../infra/sleep.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Makes every write into `dir` fail (ENOTDIR) by putting a file where the directory was, even for root;
 * returns the function that puts the directory back.
 */
function breakDirectory(dir: string): () => void {
  renameSync(dir, `${dir}.away`);
  writeFileSync(dir, 'not a directory');
  return () => {
    rmSync(dir);
    renameSync(`${dir}.away`, dir);
  };
}

/** On disk, every counter is exactly one past the last record it counts. */
function expectCountersMatchRecords(s: SimState): void {
  expect(s.nextOrderId).toBe((s.orders.at(-1)?.orderId ?? 0) + 1);
  expect(s.nextTradeId).toBe((s.fills.at(-1)?.id ?? 0) + 1);
  expect(s.nextAlgoId).toBe((s.algoOrders.at(-1)?.algoId ?? 0) + 1);
}

describe('durable state of the local exchange', () => {
  it('a state directory that becomes unwritable: answers "unknown" (503 -1006), never crashes, saves everything once writable again', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => void process.off('unhandledRejection', onUnhandled));
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const stateDir = join(tmp.dir, 'state');
    const stateFile = join(stateDir, 'exchange.json');
    const ex = await startLocalExchange({ port: 0, stateFile, tickMs: 20, feed: { kind: 'manual', prices: { ETHUSDT: 3_000 } } });
    let closed = false;
    cleanups.push(() => (closed ? undefined : ex.close().catch(() => undefined)));
    const a = adapterFor(ex);
    await a.prepareSymbol('ETHUSDT', 10);
    const order = (id: string) => a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.01, referencePrice: 3_000, clientOrderId: id });
    await order('saved-1');

    const restore = breakDirectory(stateDir);
    const err = (await failure(order('unsaved-2'))) as ExchangeError;
    expect(err).toMatchObject({ kind: 'unknown', httpStatus: 503, code: -1006 });
    expect(err.message).toMatch(/state not saved/);
    // Executed in memory, so a lookup by client id finds it, as the caller of an "unknown" must do.
    expect(await a.getOrder('ETHUSDT', 'unsaved-2')).toMatchObject({ status: 'FILLED' });
    // The background saver keeps failing for a while: no crash, no unhandled rejection.
    await sleep(300);
    const state = (await (await fetch(`${ex.baseUrl}/admin/state`)).json()) as { storage: { failedWrites: number; lastError: string } };
    expect(state.storage.failedWrites).toBeGreaterThan(1);
    expect(state.storage.lastError).toMatch(/ENOTDIR/);
    expect((await fetch(`${ex.baseUrl}/fapi/v1/time`)).status).toBe(200);

    // What is on disk meanwhile is the state before the failed write: counters not ahead of the records.
    renameSync(stateDir, `${stateDir}.file`);
    renameSync(`${stateDir}.away`, stateDir);
    const during = StateStore.load(stateFile)!.state;
    expect(during.orders.map((o) => o.clientOrderId)).toEqual(['saved-1']);
    expectCountersMatchRecords(during);
    renameSync(stateDir, `${stateDir}.away`);
    renameSync(`${stateDir}.file`, stateDir);

    restore();
    await order('saved-3');
    await ex.close();
    closed = true;
    const after = StateStore.load(stateFile)!.state;
    expect(after.orders.map((o) => o.clientOrderId)).toEqual(['saved-1', 'unsaved-2', 'saved-3']);
    expect(after.positions.ETHUSDT!.amt).toBeCloseTo(0.03, 10);
    expectCountersMatchRecords(after);
    expect(unhandled).toEqual([]);
  });

  it('the store: a failed write changes nothing it believes saved; the next write carries the same records', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const dir = join(tmp.dir, 'd');
    mkdirSync(dir);
    const file = join(dir, 's.json');
    const state = emptyState(0, { USDT: 100 });
    const store = new StateStore(file, () => state);
    await store.flush();
    const addOrder = (): void => {
      const id = state.nextOrderId++;
      state.orders.push({ orderId: id, symbol: 'BTCUSDT', clientOrderId: `c${id}`, side: 'BUY', type: 'MARKET', origQty: 1, executedQty: 1, avgPrice: 1, cumQuote: 1, status: 'FILLED', reduceOnly: false, closePosition: false, time: id, updateTime: id });
      store.markDirty();
    };
    addOrder();
    await store.flush(); // journal line 1
    const restore = breakDirectory(dir);
    addOrder();
    await expect(store.flush()).rejects.toThrow(/ENOTDIR/);
    addOrder();
    await expect(store.flush()).rejects.toThrow(/ENOTDIR/);
    restore();
    const onDisk = StateStore.load(file)!.state;
    expect(onDisk.orders.map((o) => o.orderId)).toEqual([1]);
    expectCountersMatchRecords(onDisk);
    addOrder();
    await store.flush();
    const recovered = StateStore.load(file)!.state;
    expect(recovered.orders.map((o) => o.orderId)).toEqual([1, 2, 3, 4]);
    expectCountersMatchRecords(recovered);
    expect(store.status()).toMatchObject({ failedWrites: 2, lastError: null });
  });
});
