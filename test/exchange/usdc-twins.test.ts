import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { snapshotRules } from '../../exchange/sim/filters-snapshot.js';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import { FIXTURE_DIR, FIXTURE_START, adapterFor, tempDir } from './helpers.js';

/** In a replay, a USDC symbol Binance lists and the data lacks replays its USDT twin's file, margined in USDC. */
describe('USDC twins in a replay', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function replay(symbols?: string[]): Promise<LocalExchange> {
    const tmp = tempDir();
    const data = join(tmp.dir, 'data');
    mkdirSync(data);
    for (const f of ['BTCUSDT', 'ETHUSDT']) copyFileSync(join(FIXTURE_DIR, `${f}.csv.gz`), join(data, `${f}.csv.gz`));
    const ex = await startLocalExchange({ port: 0, feed: { kind: 'replay', dir: data, speed: 1, start: FIXTURE_START, ...(symbols ? { symbols } : {}) } });
    cleanups.push(tmp.cleanup, () => ex.close());
    return ex;
  }

  it('lists the twins Binance lists, with Binance rules, the same prices, and a USDC wallet', async () => {
    const ex = await replay();
    const a = adapterFor(ex);
    const info = await a.exchangeInfo();
    // DOGEUSDC is listed by Binance but has no DOGEUSDT file here: not served.
    expect([...info.keys()].sort()).toEqual(['BTCUSDC', 'BTCUSDT', 'ETHUSDC', 'ETHUSDT']);
    expect(info.get('BTCUSDC')).toEqual(snapshotRules('BTCUSDC'));
    expect(info.get('BTCUSDC')!.quoteAsset).toBe('USDC');
    expect(await a.klines('BTCUSDC', '5m', 50)).toEqual(await a.klines('BTCUSDT', '5m', 50));
    expect(await a.markPrice('BTCUSDC')).toBe(await a.markPrice('BTCUSDT'));

    const before = await a.balances();
    await a.prepareSymbol('BTCUSDC', 5);
    const order = await a.placeMarketOrder({ symbol: 'BTCUSDC', side: 'BUY', quantity: 0.002, clientOrderId: 'twin-1' });
    expect(order.status).toBe('FILLED');
    const [fill] = await a.tradesForOrder('BTCUSDC', order.orderId);
    expect(fill!.commissionAsset).toBe('USDC');
    const after = await a.balances();
    const wallet = (b: typeof after, asset: string) => b.find((x) => x.asset === asset)!.walletBalance;
    expect(wallet(after, 'USDC')).toBeCloseTo(wallet(before, 'USDC') - fill!.commission, 8);
    expect(wallet(after, 'USDT')).toBe(wallet(before, 'USDT'));
    expect((await a.positions('BTCUSDC'))[0]!.positionAmt).toBe(0.002);
    expect(await a.positions('BTCUSDT')).toEqual([]);
  });

  it('a replay restricted to a twin lists only the twin', async () => {
    const ex = await replay(['BTCUSDC']);
    expect([...(await adapterFor(ex).exchangeInfo()).keys()]).toEqual(['BTCUSDC']);
    expect((await adapterFor(ex).klines('BTCUSDC', '5m', 5)).length).toBe(5);
  });
});
