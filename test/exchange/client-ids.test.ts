import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, adapterFor, failure, manualExchange, rawClient, setFaults } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(clock?: ManualClock): Promise<Awaited<ReturnType<typeof manualExchange>>> {
  const m = await manualExchange(clock ? { clock: clock.now } : {});
  cleanups.push(m.cleanup);
  if (clock) m.adapter = adapterFor(m.ex, { serverClock: clock.now });
  await m.adapter.prepareSymbol('ETHUSDT', 10);
  return m;
}

const eth = (clientOrderId: string, side: 'BUY' | 'SELL' = 'BUY') => ({ symbol: 'ETHUSDT', side, quantity: 0.01, referencePrice: 3_000, clientOrderId }) as const;

// Binance's client-id rules: unique among open orders only (see exchange/README.md, Client ids).
describe('client ids', () => {
  it('a client id is free again once its order is no longer open; queries answer the newest order', async () => {
    const { ex, adapter } = await setUp();
    const first = await adapter.placeMarketOrder(eth('reuse'));
    const second = await adapter.placeMarketOrder(eth('reuse', 'SELL'));
    expect(await adapter.getOrder('ETHUSDT', 'reuse')).toMatchObject({ orderId: second.orderId, side: 'SELL' });
    // The older one stays reachable by its order id.
    const c = rawClient(ex);
    const byId = (await c.getOrder({ symbol: 'ETHUSDT', orderId: first.orderId })) as { side: string };
    expect(byId.side).toBe('BUY');
    // Client ids are per symbol.
    expect(await adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, referencePrice: 60_000, clientOrderId: 'reuse' })).toMatchObject({ status: 'FILLED' });
  });

  it('algo orders: clientAlgoId unique among NEW algo orders of the account', async () => {
    const { adapter } = await setUp();
    await adapter.placeMarketOrder(eth('long'));
    const stop = { symbol: 'ETHUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice: 2_900, clientAlgoId: 'stop-1' } as const;
    const a = await adapter.placeStopOrder(stop);
    expect(await failure(adapter.placeStopOrder(stop))).toMatchObject({ kind: 'rejected', code: -4116 });
    await adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, referencePrice: 60_000, clientOrderId: 'btc-long' });
    expect(await failure(adapter.placeStopOrder({ ...stop, symbol: 'BTCUSDT', triggerPrice: 50_000 }))).toMatchObject({ code: -4116 });
    await adapter.cancelAlgoOrder('ETHUSDT', 'stop-1');
    const b = await adapter.placeStopOrder({ ...stop, triggerPrice: 2_950 });
    expect(b.algoId).toBeGreaterThan(a.algoId);
    expect(await adapter.getAlgoOrder('ETHUSDT', 'stop-1')).toMatchObject({ algoId: b.algoId, status: 'NEW', triggerPrice: 2_950 });
    await adapter.cancelAlgoOrder('ETHUSDT', 'stop-1');
    expect((await adapter.getAlgoOrder('ETHUSDT', 'stop-1'))!.status).toBe('CANCELED');
  });

  it('Binance retention: an unfilled cancelled order is not found after 3 days, any order after 90 days', async () => {
    const clock = new ManualClock();
    const { ex, adapter } = await setUp(clock);
    await setFaults(ex, { partialFill: { count: 1, fraction: 0, status: 'NEW' } });
    expect(await adapter.placeMarketOrder(eth('gone'))).toMatchObject({ status: 'NEW' });
    await adapter.cancelOrder('ETHUSDT', 'gone');
    await adapter.placeMarketOrder(eth('kept'));
    clock.advance(3 * 86_400_000 - 1_000);
    expect((await adapter.getOrder('ETHUSDT', 'gone'))!.status).toBe('CANCELED');
    clock.advance(2_000);
    expect(await adapter.getOrder('ETHUSDT', 'gone')).toBeNull();
    expect((await adapter.getOrder('ETHUSDT', 'kept'))!.status).toBe('FILLED');
    clock.advance(87 * 86_400_000);
    expect(await adapter.getOrder('ETHUSDT', 'kept')).toBeNull();
  });
});
