import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StateStore } from '../../exchange/sim/store.js';
import { emptyState, type SimState } from '../../exchange/sim/state.js';
import { tempDir } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function order(id: number): SimState['orders'][number] {
  return { orderId: id, symbol: 'BTCUSDT', clientOrderId: `c${id}`, side: 'BUY', type: 'MARKET', origQty: 1, executedQty: 1, avgPrice: 1, cumQuote: 1, status: 'FILLED', reduceOnly: false, closePosition: false, time: id, updateTime: id };
}

describe('state store (snapshot + journal)', () => {
  it('journals only changes, survives a torn last line, and compacts into the snapshot', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const file = join(tmp.dir, 'state.json');
    const state = emptyState(0, { USDT: 100 });
    const store = new StateStore(file, () => state);
    await store.flush(); // first write: the snapshot
    for (let i = 1; i <= 300; i++) {
      state.orders.push(order(i));
      state.wallets.USDT = 100 - i;
      state.algoOrders.push({ algoId: i, clientAlgoId: `a${i}`, symbol: 'BTCUSDT', side: 'SELL', orderType: 'STOP_MARKET', triggerPrice: 1, quantity: 0, closePosition: true, reduceOnly: false, workingType: 'MARK_PRICE', status: 'NEW', actualOrderId: null, actualPrice: 0, createTime: i, updateTime: i, triggerTime: 0 });
      if (i > 1) state.algoOrders[i - 2]!.status = 'CANCELED';
      store.markDirty();
      await store.flush();
    }
    const snapshotSize = statSync(file).size;
    const journal = readFileSync(`${file}.log`, 'utf8').trim().split('\n');
    expect(journal).toHaveLength(300);
    // Each line carries one new order, not the history.
    expect(Math.max(...journal.map((l) => l.length))).toBeLessThan(2_000);
    expect(snapshotSize).toBeLessThan(2_000);

    appendFileSync(`${file}.log`, '{"seq":99999,"core":'); // crash mid-append
    const loaded = StateStore.load(file)!;
    expect(loaded.state.orders.map((o) => o.orderId)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(loaded.state.wallets.USDT).toBe(-200);
    expect(loaded.state.algoOrders.filter((a) => a.status === 'NEW').map((a) => a.algoId)).toEqual([300]);
    expect(loaded.state.algoOrders.filter((a) => a.status === 'CANCELED')).toHaveLength(299);

    // A new run starts from a fresh snapshot and an empty journal.
    const again = new StateStore(file, () => loaded.state, loaded.seq);
    await again.flush();
    expect(readFileSync(`${file}.log`, 'utf8')).toBe('');
    expect(StateStore.load(file)!.state).toEqual(loaded.state);
  });
});
