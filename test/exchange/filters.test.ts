import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { filtersSnapshot, snapshotRules } from '../../exchange/sim/filters-snapshot.js';
import { startLocalExchange } from '../../exchange/sim/server.js';
import { deriveRules } from '../../exchange/sim/symbols.js';
import { FIXTURE_DIR, FIXTURE_START, adapterFor, failure, rawClient, tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const isPowerOfTen = (x: number): boolean => Math.abs(Math.log10(x) - Math.round(Math.log10(x))) < 1e-9;

describe("Binance's filters snapshot", () => {
  it('is a dated exchangeInfo capture with well-formed filters for every symbol it lists', () => {
    const snap = filtersSnapshot();
    expect(snap.source).toMatch(/fapi\.binance\.com\/fapi\/v1\/exchangeInfo/);
    expect(new Date(snap.asOf).getTime()).toBe(snap.serverTime);
    expect(Object.keys(snap.symbols).length).toBeGreaterThanOrEqual(60);
    for (const [symbol, f] of Object.entries(snap.symbols)) {
      expect(symbol.endsWith(f.quoteAsset), symbol).toBe(true);
      expect(f.marginAsset, symbol).toBe(f.quoteAsset);
      const r = snapshotRules(symbol)!;
      for (const step of [r.tickSize, r.stepSize, r.marketStepSize]) expect(isPowerOfTen(step), `${symbol} ${step}`).toBe(true);
      expect(r.minQty, symbol).toBeGreaterThanOrEqual(r.stepSize);
      expect(r.marketMaxQty, symbol).toBeGreaterThan(r.minQty);
      expect([5, 20, 100], symbol).toContain(r.minNotional);
    }
  });

  it('has the values Binance is known for: BTCUSDT min notional 100, ETHUSDT 20, most others 5', () => {
    expect(snapshotRules('BTCUSDT')).toMatchObject({ tickSize: 0.1, minNotional: 100, quoteAsset: 'USDT' });
    expect(snapshotRules('ETHUSDT')).toMatchObject({ tickSize: 0.01, stepSize: 0.001, minNotional: 20 });
    expect(snapshotRules('DOGEUSDT')).toMatchObject({ tickSize: 0.00001, stepSize: 1, minNotional: 5 });
    expect(snapshotRules('AVAXUSDC')).toMatchObject({ quoteAsset: 'USDC', minNotional: 5 });
    expect(snapshotRules('NOSUCHUSDT')).toBeUndefined();
    // A shared-data symbol the capture does not list keeps the derived rule.
    for (const missing of filtersSnapshot().notListed) expect(snapshotRules(missing)).toBeUndefined();
  });

  it('the local exchange serves and enforces them; an unlisted symbol falls back to rules derived from its data', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    // The fixtures, plus DOGE's candles under the name of a symbol the capture does not list.
    const data = join(tmp.dir, 'data');
    mkdirSync(data);
    for (const f of ['BTCUSDT', 'ETHUSDT', 'DOGEUSDT', 'AVAXUSDC']) copyFileSync(join(FIXTURE_DIR, `${f}.csv.gz`), join(data, `${f}.csv.gz`));
    const unlisted = filtersSnapshot().notListed[0] ?? 'NOTLISTEDUSDT';
    copyFileSync(join(FIXTURE_DIR, 'DOGEUSDT.csv.gz'), join(data, `${unlisted}.csv.gz`));
    const ex = await startLocalExchange({ port: 0, stateFile: join(tmp.dir, 's.json'), feed: { kind: 'replay', dir: data, speed: 1, start: FIXTURE_START } });
    cleanups.push(() => ex.close());
    const a = adapterFor(ex);
    const info = await a.exchangeInfo();
    for (const symbol of ['BTCUSDT', 'ETHUSDT', 'DOGEUSDT', 'AVAXUSDC']) expect(info.get(symbol)).toEqual(snapshotRules(symbol));
    // 0.002 BTC is about 230 USDT at the fixture's prices: above 100. 0.0008 BTC is under it.
    await a.prepareSymbol('BTCUSDT', 10);
    expect((await a.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.002, clientOrderId: 'btc-ok' })).status).toBe('FILLED');
    const raw = rawClient(ex).postPrivate('fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.0008' });
    expect(((await failure(raw)) as { response: { data: { code: number } } }).response.data.code).toBe(-4164);

    const d = ex.feed.describe(unlisted)!;
    expect(info.get(unlisted)).toEqual(deriveRules(unlisted, d.referencePrice, d.priceDecimals));
  });
});
