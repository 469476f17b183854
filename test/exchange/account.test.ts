import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import { FIXTURE_DIR, FIXTURE_START, ManualClock, adapterFor, manualExchange, setPrice, tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface AdminState {
  orders: Array<{ clientOrderId: string; type: string }>;
  funding: Array<{ symbol: string; amount: number; time: number; rate: number }>;
}
const adminState = async (ex: LocalExchange): Promise<AdminState> => (await fetch(`${ex.baseUrl}/admin/state`)).json() as Promise<AdminState>;

describe('cross margin account', () => {
  it('liquidates when the margin balance falls under maintenance, and not before', async () => {
    const { ex, adapter, cleanup } = await manualExchange({ initialBalances: { USDT: 100 }, slippageBps: 0 });
    cleanups.push(cleanup);
    await adapter.prepareSymbol('BTCUSDT', 20);
    await adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.03, clientOrderId: 'lev-long' });
    // Wallet 100 - 0.9 fee; at 57000 the loss is 90: margin balance 9.1 > maintenance 0.5% x 1710 = 8.55.
    await setPrice(ex, 'BTCUSDT', 57_000);
    expect(await adapter.positions('BTCUSDT')).toHaveLength(1);
    // At 56800 the loss is 96: margin balance 3.1 < 8.52.
    await setPrice(ex, 'BTCUSDT', 56_800);
    expect(await adapter.positions('BTCUSDT')).toEqual([]);
    const liquidation = (await adminState(ex)).orders.find((o) => o.type === 'LIQUIDATION')!;
    expect(liquidation.clientOrderId).toMatch(/^autoclose-/);
    const usdt = (await adapter.balances()).find((b) => b.asset === 'USDT')!;
    expect(usdt.walletBalance).toBeGreaterThanOrEqual(0);
    expect(usdt.walletBalance).toBeLessThan(5);
  });

  it('settles funding at the 8-hour marks of market time', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const clock = new ManualClock();
    const ex = await startLocalExchange({
      port: 0,
      stateFile: join(tmp.dir, 's.json'),
      clock: clock.now,
      fundingRate: 0.0001,
      feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 100, start: FIXTURE_START },
    });
    cleanups.push(() => ex.close());
    const a = adapterFor(ex);
    await a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 1, referencePrice: 3_000, clientOrderId: 'funded-long' });
    const walletBefore = (await a.balances()).find((b) => b.asset === 'USDT')!.walletBalance;
    clock.advance(3.9 * 3_600_000 / 100); // to 15:54: no funding yet
    expect((await adminState(ex)).funding).toEqual([]);
    clock.advance(0.2 * 3_600_000 / 100); // past 16:00 UTC
    const [payment] = (await adminState(ex)).funding;
    expect(payment).toMatchObject({ symbol: 'ETHUSDT', time: Date.UTC(2025, 7, 1, 16), rate: 0.0001 });
    // A long pays when the rate is positive: about 1 ETH x 3600 x 0.0001.
    expect(payment!.amount).toBeLessThan(-0.3);
    expect(payment!.amount).toBeGreaterThan(-0.45);
    const walletAfter = (await a.balances()).find((b) => b.asset === 'USDT')!.walletBalance;
    expect(walletAfter).toBeCloseTo(walletBefore + payment!.amount, 8);
  });
});
