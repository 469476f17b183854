import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BinanceFuturesAdapter } from '../../exchange/adapter.js';
import type { LocalExchange } from '../../exchange/sim/server.js';
import { adapterFor, failure, manualExchange } from './helpers.js';

// No order with a non-finite, zero or negative quantity or price ever leaves the adapter: counted at the exchange.
describe('bad numbers never leave the adapter', () => {
  let ex: LocalExchange;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ ex, cleanup } = await manualExchange());
  });
  afterAll(() => cleanup());

  const requests = async (): Promise<number> => ((await (await fetch(`${ex.baseUrl}/admin/state`)).json()) as { requests: number }).requests;

  /** Runs a call on a fresh adapter (no cached exchange info) and returns its error and the requests it sent. */
  async function attempt(call: (a: BinanceFuturesAdapter) => Promise<unknown>): Promise<{ error: unknown; sent: number }> {
    const a = adapterFor(ex);
    const before = await requests();
    const error = await failure(call(a));
    return { error, sent: (await requests()) - before };
  }

  it.each([NaN, Infinity, -Infinity, 0, -0.5])('quantity %s: rejected, naming it, nothing sent', async (quantity) => {
    const { error, sent } = await attempt((a) => a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity, referencePrice: 3_000, clientOrderId: 'bad-qty' }));
    expect(error).toMatchObject({ kind: 'rejected', code: -4003 });
    expect((error as Error).message).toContain(`quantity ${quantity}`);
    expect(sent).toBe(0);
  });

  it.each([NaN, Infinity, 0, -3_000])('reference price %s: rejected, nothing sent', async (referencePrice) => {
    const { error, sent } = await attempt((a) => a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.01, referencePrice, clientOrderId: 'bad-ref' }));
    expect(error).toMatchObject({ kind: 'rejected', code: -4001 });
    expect((error as Error).message).toContain(`reference price ${referencePrice}`);
    expect(sent).toBe(0);
  });

  it.each([NaN, Infinity, 0, -1])('trigger price %s: rejected, nothing sent', async (triggerPrice) => {
    const { error, sent } = await attempt((a) => a.placeStopOrder({ symbol: 'ETHUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice, clientAlgoId: 'bad-stop' }));
    expect(error).toMatchObject({ kind: 'rejected', code: -4001 });
    expect((error as Error).message).toContain(`trigger price ${triggerPrice}`);
    expect(sent).toBe(0);
  });

  it('a quantity or trigger that rounds to zero on the filters is refused before the order is sent', async () => {
    const qty = await attempt((a) => a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'SELL', quantity: 0.0004, reduceOnly: true, clientOrderId: 'dust' }));
    expect(qty.error).toMatchObject({ kind: 'rejected', code: -4003 });
    expect(qty.sent).toBe(1); // exchange info, to learn the lot step; no order
    const trigger = await attempt((a) => a.placeStopOrder({ symbol: 'ETHUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice: 0.001, clientAlgoId: 'dust-stop' }));
    expect(trigger.error).toMatchObject({ kind: 'rejected', code: -4001 });
    expect(trigger.sent).toBe(1);
    expect(ex.engine.state.orders).toHaveLength(0);
    expect(ex.engine.state.algoOrders).toHaveLength(0);
  });

  it('sound numbers still go through', async () => {
    const a = adapterFor(ex);
    await a.prepareSymbol('ETHUSDT', 10);
    expect((await a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.01, referencePrice: 3_000, clientOrderId: 'good' })).status).toBe('FILLED');
  });
});
