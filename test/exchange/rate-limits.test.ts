import { afterEach, describe, expect, it } from 'vitest';
import type { ExchangeError } from '../../exchange/errors.js';
import { startLocalExchange, type LocalExchange, type LocalExchangeOptions } from '../../exchange/sim/server.js';
import { ManualClock, adapterFor, failure, rawClient, setFaults } from './helpers.js';
import { sleep } from '../../infra/sleep.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** 12:00:00.000 of some day: minute boundaries are easy to reach. */
const T0 = Date.UTC(2027, 0, 15, 12);

async function exchange(opts: Partial<LocalExchangeOptions> = {}): Promise<{ ex: LocalExchange; clock: ManualClock }> {
  const clock = new ManualClock(T0);
  const ex = await startLocalExchange({ port: 0, clock: clock.now, feed: { kind: 'manual', prices: { BTCUSDT: 60_000, ETHUSDT: 3_000 } }, ...opts });
  cleanups.push(() => ex.close());
  return { ex, clock };
}

/** One public request; returns the status, the used weight header and the body. */
async function get(ex: LocalExchange, path: string): Promise<{ status: number; used: number; retryAfter: string | null; body: { code?: number; msg?: string } }> {
  const res = await fetch(`${ex.baseUrl}${path}`);
  return { status: res.status, used: Number(res.headers.get('x-mbx-used-weight-1m')), retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { code?: number } };
}

describe('request weight', () => {
  it('charges each endpoint its documented weight in the current minute, reported in X-MBX-USED-WEIGHT-1M', async () => {
    const { ex, clock } = await exchange();
    expect((await get(ex, '/fapi/v1/exchangeInfo')).used).toBe(1);
    expect((await get(ex, '/fapi/v1/klines?symbol=BTCUSDT&interval=5m&limit=99')).used).toBe(2);
    expect((await get(ex, '/fapi/v1/klines?symbol=BTCUSDT&interval=5m&limit=100')).used).toBe(4);
    expect((await get(ex, '/fapi/v1/klines?symbol=BTCUSDT&interval=5m')).used).toBe(9); // default limit 500: 5
    expect((await get(ex, '/fapi/v1/klines?symbol=BTCUSDT&interval=5m&limit=1500')).used).toBe(19);
    expect((await get(ex, '/fapi/v1/premiumIndex?symbol=BTCUSDT')).used).toBe(20);
    expect((await get(ex, '/fapi/v1/premiumIndex')).used).toBe(30);
    expect((await get(ex, '/fapi/v1/ticker/price')).used).toBe(32);
    // Signed reads: positionRisk 5, userTrades 5; a new order 0 on the IP limit, 1 on the order counts.
    const c = rawClient(ex);
    clock.advance(60_000);
    c.setTimeOffset(clock.t - Date.now()); // signed requests carry the exchange's (hand-moved) time
    await c.getPositionsV3();
    expect(c.getRateLimitStates()['x-mbx-used-weight-1m']).toBe(5);
    await c.getAccountTrades({ symbol: 'BTCUSDT' });
    const before = c.getRateLimitStates()['x-mbx-used-weight-1m'];
    expect(before).toBe(10);
    await c.postPrivate('fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.002' });
    const after = c.getRateLimitStates();
    expect(after['x-mbx-used-weight-1m']).toBe(before);
    expect(after['x-mbx-order-count-1m']).toBe(1);
    expect(after['x-mbx-order-count-10s']).toBe(1);
  });

  it('answers 429 -1003 with Retry-After past the limit, and counts again from zero in the next minute', async () => {
    const { ex, clock } = await exchange({ weightLimitPerMinute: 20 });
    clock.advance(30_000);
    for (let i = 0; i < 2; i++) expect((await get(ex, '/fapi/v1/premiumIndex')).status).toBe(200);
    const over = await get(ex, '/fapi/v1/premiumIndex');
    expect(over).toMatchObject({ status: 429, used: 30, retryAfter: '30', body: { code: -1003 } });
    expect(over.body.msg).toMatch(/limit of IP\(.*\) is 20 requests per minute/);
    clock.advance(30_000);
    expect(await get(ex, '/fapi/v1/premiumIndex')).toMatchObject({ status: 200, used: 10 });
  });

  it('the weightLimitPerMinute fault switch changes the limit at run time, and exchangeInfo lists it', async () => {
    const { ex } = await exchange();
    await setFaults(ex, { weightLimitPerMinute: 5 });
    const info = (await get(ex, '/fapi/v1/exchangeInfo')).body as unknown as { rateLimits: Array<{ rateLimitType: string; limit: number }> };
    expect(info.rateLimits.find((l) => l.rateLimitType === 'REQUEST_WEIGHT')!.limit).toBe(5);
    expect((await get(ex, '/fapi/v1/premiumIndex')).status).toBe(429);
  });

  it('bans an IP that keeps sending through its back-off: 418 for 2 minutes, then twice as long', async () => {
    const { ex, clock } = await exchange({ weightLimitPerMinute: 10, banAfterIgnored429: 3 });
    expect((await get(ex, '/fapi/v1/premiumIndex')).status).toBe(200);
    expect((await get(ex, '/fapi/v1/premiumIndex')).status).toBe(429);
    // Answers to requests already in flight when the 429 came do not count against the IP.
    for (let i = 0; i < 5; i++) expect((await get(ex, '/fapi/v1/time')).status).toBe(429);
    clock.advance(2_000);
    expect((await get(ex, '/fapi/v1/time')).status).toBe(429);
    expect((await get(ex, '/fapi/v1/time')).status).toBe(429);
    const banned = await get(ex, '/fapi/v1/time');
    expect(banned).toMatchObject({ status: 418, retryAfter: '120', body: { code: -1003 } });
    clock.advance(119_000);
    expect((await get(ex, '/fapi/v1/time')).status).toBe(418);
    clock.advance(1_000);
    expect((await get(ex, '/fapi/v1/time')).status).toBe(200);
    // Second offence: 4 minutes.
    await get(ex, '/fapi/v1/premiumIndex');
    expect((await get(ex, '/fapi/v1/premiumIndex')).status).toBe(429);
    clock.advance(1_500);
    for (let i = 0; i < 2; i++) await get(ex, '/fapi/v1/time');
    expect(await get(ex, '/fapi/v1/time')).toMatchObject({ status: 418, retryAfter: '240' });
  });

  it('limits new orders per account: 300 per 10 seconds, then 429 -1015', async () => {
    const { ex } = await exchange({ initialBalances: { USDT: 1e9 } });
    const a = adapterFor(ex);
    await a.prepareSymbol('ETHUSDT', 10);
    for (let i = 0; i < 300; i++) await a.placeMarketOrder({ symbol: 'ETHUSDT', side: i % 2 ? 'SELL' : 'BUY', quantity: 0.01, referencePrice: 3_000, clientOrderId: `o-${i}` });
    const err = (await failure(a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.01, referencePrice: 3_000, clientOrderId: 'o-300' }))) as ExchangeError;
    expect(err).toMatchObject({ kind: 'retryable', httpStatus: 429, code: -1015 });
    expect(ex.engine.state.orders).toHaveLength(300);
  });
});

describe('the adapter against the weight limit', () => {
  it('learns the limit from exchangeInfo, keeps under 95 % of it with concurrent calls, and waits for the next minute', async () => {
    const { ex, clock } = await exchange({ weightLimitPerMinute: 100 });
    const a = adapterFor(ex, { serverClock: clock.now, timeoutMs: 10_000 });
    await a.exchangeInfo(); // weight 1; the limit read is 100, the budget 95
    const failures: unknown[] = [];
    let done = 0;
    const calls = Array.from({ length: 20 }, () =>
      a.markPrices().then(
        () => done++,
        (e: unknown) => failures.push(e),
      ),
    );
    await sleep(600);
    expect(done).toBe(9); // 1 + 9 x 10 = 91; a tenth would pass 95
    clock.advance(60_000);
    await sleep(600);
    expect(done).toBe(18);
    clock.advance(60_000);
    await Promise.all(calls);
    expect(done).toBe(20);
    expect(failures).toEqual([]);
  });

  it('a budget configured below the exchange limit wins', async () => {
    const { ex, clock } = await exchange({ weightLimitPerMinute: 1_000 });
    const a = adapterFor(ex, { serverClock: clock.now, weightLimitPerMinute: 21 });
    await a.exchangeInfo();
    let done = 0;
    const calls = Array.from({ length: 3 }, () => a.markPrices().then(() => done++));
    await sleep(400);
    expect(done).toBe(1); // 1 + 10 = 11; 21 would pass 95 % of 21
    clock.advance(60_000);
    await sleep(400);
    clock.advance(60_000);
    await Promise.all(calls);
    expect(done).toBe(3);
  });
});
