import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { positionOrderActivities } from '../../activities/position-orders.js';
import type { ActivityDeps } from '../../activities/deps.js';
import { HardCapCode } from '../../exchange/errors.js';
import { createExchange } from '../../exchange/factory.js';
import type { LocalExchange } from '../../exchange/sim/server.js';
import { failure, manualExchange } from './helpers.js';

// The adapter's hard caps, through createExchange (the worker's path) against the local exchange: a refused order
// never reaches /fapi/v1/order, counted in the exchange's own records.
describe('hard caps in the adapter', () => {
  let ex: LocalExchange;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ ex, cleanup } = await manualExchange());
  });
  afterAll(() => cleanup());

  const caps = { maxOrderNotional: 1_000, maxLeverage: 10, priceBandPct: 5 };
  const adapter = () => createExchange({ venue: 'paper', baseUrl: ex.baseUrl, caps });
  const orders = () => ex.engine.state.orders.length;

  it('refuses an opening order above the notional cap, the leverage cap or off the mark; nothing leaves', async () => {
    const a = adapter();
    const before = orders();
    const notional = await failure(a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.5, referencePrice: 3_000, clientOrderId: 'cap-notional' }));
    expect(notional).toMatchObject({ kind: 'rejected', code: HardCapCode.ORDER_NOTIONAL });
    // Sized at a price 10 % off the mark (3,000): refused even though its notional there would pass.
    const band = await failure(a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'SELL', quantity: 0.2, referencePrice: 3_300, clientOrderId: 'cap-band' }));
    expect(band).toMatchObject({ kind: 'rejected', code: HardCapCode.PRICE_BAND });
    // No reference price: sized at the mark, 0.4 BTC at 60,000 is 24,000.
    const atMark = await failure(a.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.4, clientOrderId: 'cap-mark' }));
    expect(atMark).toMatchObject({ kind: 'rejected', code: HardCapCode.ORDER_NOTIONAL });
    const leverage = await failure(a.prepareSymbol('ETHUSDT', 20));
    expect(leverage).toMatchObject({ kind: 'rejected', code: HardCapCode.LEVERAGE });
    expect(orders()).toBe(before);
    expect(ex.engine.state.orders.map((o) => o.clientOrderId)).not.toContain('cap-notional');
  });

  it('lets orders inside the caps through, and never holds back an order that only reduces', async () => {
    const a = adapter();
    await a.prepareSymbol('ETHUSDT', 10);
    expect((await a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.3, referencePrice: 3_010, clientOrderId: 'cap-ok-1' })).status).toBe('FILLED');
    expect((await a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.3, referencePrice: 2_995, clientOrderId: 'cap-ok-2' })).status).toBe('FILLED');
    // 0.6 ETH = 1,800 notional: above the opening cap, and closing it must still go.
    const exit = await a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'SELL', quantity: 0.6, reduceOnly: true, clientOrderId: 'cap-exit' });
    expect(exit).toMatchObject({ status: 'FILLED', executedQty: 0.6 });
    expect(await a.positions('ETHUSDT')).toEqual([]);
  });

  it('an entry beyond a cap is a final refusal for the position lifecycle, carrying the cap code, and is not sent', async () => {
    // The order activities use the exchange only.
    const deps = { exchange: adapter() } as Partial<ActivityDeps> as ActivityDeps;
    const { submitEntry } = positionOrderActivities(deps);
    const env = new MockActivityEnvironment();
    const before = orders();
    const base = { symbol: 'BTCUSDT', side: 'LONG' as const, clientOrderId: 'qt-caps-1-E1', sendBefore: Date.now() + 30_000 };
    const notional = await env.run(submitEntry, { ...base, notional: 5_000, leverage: 5 });
    expect(notional).toMatchObject({ outcome: 'REFUSED', code: HardCapCode.ORDER_NOTIONAL });
    const leverage = await env.run(submitEntry, { ...base, clientOrderId: 'qt-caps-2-E1', notional: 200, leverage: 50 });
    expect(leverage).toMatchObject({ outcome: 'REFUSED', code: HardCapCode.LEVERAGE });
    expect(orders()).toBe(before);
  });
});
