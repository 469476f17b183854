import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExchangeError } from '../../exchange/errors.js';
import { toExchangeError, type BinanceFuturesAdapter } from '../../exchange/adapter.js';
import type { LocalExchange } from '../../exchange/sim/server.js';
import { adapterFor, failure, manualExchange, rawClient, setFaults } from './helpers.js';
import { sleep } from '../../infra/sleep.js';

/** Sends a request with the raw client and maps its failure the way the adapter does. */
async function rawFailure(p: Promise<unknown>): Promise<ExchangeError> {
  return toExchangeError('raw', await failure(p));
}

// Each Binance error the design names, provoked for real over HTTP, and the adapter's mapping of it.
describe('error codes and their mapping', () => {
  let ex: LocalExchange;
  let adapter: BinanceFuturesAdapter;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ ex, adapter, cleanup } = await manualExchange({ initialBalances: { USDT: 1_000, USDC: 1_000 } }));
    await adapter.prepareSymbol('BTCUSDT', 10);
  });
  afterAll(() => cleanup());

  const order = (over: Record<string, string> = {}) => ({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.002', newOrderRespType: 'RESULT', ...over });

  it('-2015 wrong API key and -1022 bad signature are rejected', async () => {
    const badKey = adapterFor(ex, { apiKey: 'someone-else' });
    expect(await failure(badKey.balances())).toMatchObject({ kind: 'rejected', code: -2015, httpStatus: 401 });
    const badSecret = adapterFor(ex, { apiSecret: 'wrong-secret' });
    expect(await failure(badSecret.balances())).toMatchObject({ kind: 'rejected', code: -1022 });
  });

  it('-2014 missing API key header is rejected', async () => {
    const res = await fetch(`${ex.baseUrl}/fapi/v2/balance?timestamp=${Date.now()}&signature=00`);
    const body = (await res.json()) as { code: number };
    expect([res.status, body.code]).toEqual([401, -2014]);
  });

  it('-1021 after clock skew: the adapter re-syncs its offset and the call succeeds', async () => {
    await setFaults(ex, { clockSkewMs: -30_000 });
    try {
      const raw = await rawFailure(rawClient(ex).getBalanceV3());
      expect(raw).toMatchObject({ kind: 'retryable', code: -1021 });
      const fresh = adapterFor(ex);
      expect((await fresh.balances()).length).toBe(2);
      expect(Math.abs((await fresh.syncTime()) + 30_000)).toBeLessThan(1_000);
    } finally {
      await setFaults(ex, { clockSkewMs: 0 });
    }
  });

  it('-1102 missing parameter, -1111 bad precision, -4120 conditional type on /order', async () => {
    const c = rawClient(ex);
    const { quantity: _q, ...noQty } = order();
    expect(await rawFailure(c.postPrivate('fapi/v1/order', noQty))).toMatchObject({ kind: 'rejected', code: -1102 });
    expect(await rawFailure(c.postPrivate('fapi/v1/order', order({ quantity: '0.00015' })))).toMatchObject({ kind: 'rejected', code: -1111 });
    expect(await rawFailure(c.postPrivate('fapi/v1/order', order({ type: 'STOP_MARKET', stopPrice: '50000' })))).toMatchObject({ kind: 'rejected', code: -4120 });
  });

  it('-4164 below min notional: refused by the adapter before sending, and by the exchange', async () => {
    // ETH is priced at 3000: 0.001 ETH is 3 USDT, under the 5 USDT minimum.
    expect(await failure(adapter.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.001, clientOrderId: 'tiny-1' }))).toMatchObject({ kind: 'rejected', code: -4164 });
    expect(ex.engine.state.orders.find((o) => o.clientOrderId === 'tiny-1')).toBeUndefined();
    expect(await rawFailure(rawClient(ex).postPrivate('fapi/v1/order', order({ symbol: 'ETHUSDT' })))).toMatchObject({ kind: 'rejected', code: -4164 });
  });

  it('-2019 insufficient margin', async () => {
    // 1000 USDT at 10x buys at most about 10000 USDT of BTC.
    expect(await failure(adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.5, clientOrderId: 'too-big-1' }))).toMatchObject({ kind: 'rejected', code: -2019 });
  });

  it('-2022 reduce-only without a position', async () => {
    expect(await failure(adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'SELL', quantity: 0.002, reduceOnly: true, clientOrderId: 'ro-1' }))).toMatchObject({ kind: 'rejected', code: -2022 });
  });

  it('-4116 duplicate client order id: only while an order with that id is open, as on Binance', async () => {
    // A filled order is not open: Binance accepts its client id again.
    const first = await adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, clientOrderId: 'dup-1' });
    const second = await adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, clientOrderId: 'dup-1' });
    expect([first.status, second.status]).toEqual(['FILLED', 'FILLED']);
    expect(second.orderId).toBeGreaterThan(first.orderId);
    // An order left open (partial fill) blocks its id until it is final.
    await setFaults(ex, { partialFill: { count: 1, fraction: 0.5, status: 'PARTIALLY_FILLED' } });
    expect(await adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.004, clientOrderId: 'dup-2' })).toMatchObject({ status: 'PARTIALLY_FILLED', executedQty: 0.002 });
    expect(await failure(adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, clientOrderId: 'dup-2' }))).toMatchObject({ kind: 'rejected', code: -4116 });
    await adapter.cancelOrder('BTCUSDT', 'dup-2');
    expect(await adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, clientOrderId: 'dup-2' })).toMatchObject({ status: 'FILLED' });
  });

  it('-2013 unknown order: query returns null, the raw code is rejected', async () => {
    expect(await adapter.getOrder('BTCUSDT', 'ghost')).toBeNull();
    expect(await rawFailure(rawClient(ex).getOrder({ symbol: 'BTCUSDT', origClientOrderId: 'ghost' }))).toMatchObject({ kind: 'rejected', code: -2013 });
  });

  it('-2021 a stop that would trigger at once is rejected', async () => {
    expect(await failure(adapter.placeStopOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice: 70_000, clientAlgoId: 'instant-1' }))).toMatchObject({ kind: 'rejected', code: -2021 });
  });

  it('429 burst: retryable with Retry-After, and the adapter holds off without sending', async () => {
    await setFaults(ex, { burst429: { count: 1, retryAfterSec: 1 } });
    const a = adapterFor(ex);
    expect(await failure(a.markPrice('BTCUSDT'))).toMatchObject({ kind: 'retryable', httpStatus: 429, code: -1003, retryAfterMs: 1000 });
    const blocked = (await failure(a.markPrice('BTCUSDT'))) as ExchangeError;
    expect(blocked.kind).toBe('retryable');
    expect(blocked.message).toMatch(/not sent/);
    await sleep(1_050);
    expect(await a.markPrice('BTCUSDT')).toBe(60_000);
  });

  it('418 ban: retryable after its Retry-After', async () => {
    await setFaults(ex, { burst429: { count: 1, retryAfterSec: 120, status: 418 } });
    expect(await failure(adapterFor(ex).markPrice('BTCUSDT'))).toMatchObject({ kind: 'retryable', httpStatus: 418, retryAfterMs: 120_000 });
  });

  it('503 "Service Unavailable" before execution is retryable', async () => {
    await setFaults(ex, { errorRate5xx: 1 });
    try {
      expect(await failure(adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, referencePrice: 60_000, clientOrderId: 'svc-1' }))).toMatchObject({ kind: 'retryable', httpStatus: 503 });
      expect(ex.engine.state.orders.find((o) => o.clientOrderId === 'svc-1')).toBeUndefined();
    } finally {
      await setFaults(ex, { errorRate5xx: 0 });
    }
  });

  it('-1006 / -1007 execution status unknown: unknown, and the order did execute', async () => {
    for (const code of [-1006, -1007]) {
      await setFaults(ex, { unknownStatus: { count: 1, code } });
      const id = `unknown${code}`;
      expect(await failure(adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, referencePrice: 60_000, clientOrderId: id }))).toMatchObject({ kind: 'unknown', code });
      expect(await adapter.getOrder('BTCUSDT', id)).toMatchObject({ status: 'FILLED' });
    }
  });

  it('bare 503 "Unknown error" after execution is unknown', async () => {
    await setFaults(ex, { unknownStatus: { count: 1, code: 0 } });
    expect(await failure(adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, referencePrice: 60_000, clientOrderId: 'bare503' }))).toMatchObject({ kind: 'unknown', httpStatus: 503 });
    expect(await adapter.getOrder('BTCUSDT', 'bare503')).toMatchObject({ status: 'FILLED' });
  });

  it('lost response: unknown; querying by client id finds the executed order (no resend needed)', async () => {
    await setFaults(ex, { loseResponse: { count: 1 } });
    const before = ex.engine.state.orders.length;
    const err = (await failure(adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, referencePrice: 60_000, clientOrderId: 'lost-1' }))) as ExchangeError;
    expect(err.kind).toBe('unknown');
    expect(ex.engine.state.orders.length).toBe(before + 1);
    expect(await adapter.getOrder('BTCUSDT', 'lost-1')).toMatchObject({ status: 'FILLED', executedQty: 0.002 });
  });

  it('held response + client timeout: unknown; the order is there; release answers the held request', async () => {
    await setFaults(ex, { holdResponse: { count: 1 } });
    const impatient = adapterFor(ex, { timeoutMs: 300 });
    const err = (await failure(impatient.placeMarketOrder({ symbol: 'BTCUSDT', side: 'SELL', quantity: 0.002, referencePrice: 60_000, clientOrderId: 'held-1' }))) as ExchangeError;
    expect(err.kind).toBe('unknown');
    expect(await adapter.getOrder('BTCUSDT', 'held-1')).toMatchObject({ status: 'FILLED' });
    const res = await fetch(`${ex.baseUrl}/admin/release`, { method: 'POST' });
    expect(await res.json()).toEqual({ released: 1 });
  });

  it('latency beyond the request timeout is unknown', async () => {
    await setFaults(ex, { latencyMs: 500 });
    try {
      expect(await failure(adapterFor(ex, { timeoutMs: 200 }).markPrice('BTCUSDT'))).toMatchObject({ kind: 'unknown' });
    } finally {
      await setFaults(ex, { latencyMs: 0 });
    }
  });

  it('connection refused (exchange down) is retryable: nothing was sent', async () => {
    const down = adapterFor(ex, { baseUrl: 'http://127.0.0.1:9' });
    expect(await failure(down.markPrice('BTCUSDT'))).toMatchObject({ kind: 'retryable' });
  });
});
