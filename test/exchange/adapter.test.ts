import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { TAKER_FEE_RATE } from '../../core/costs.js';
import type { BinanceFuturesAdapter } from '../../exchange/adapter.js';
import type { LocalExchange } from '../../exchange/sim/server.js';
import { ApiCredentials } from '../../exchange/credentials.js';
import { createExchange } from '../../exchange/factory.js';
import { manualExchange, setPrice } from './helpers.js';

// Every FuturesExchange call through the real binance client, over HTTP, against the local exchange.
describe('BinanceFuturesAdapter against the local exchange (manual prices)', () => {
  let ex: LocalExchange;
  let adapter: BinanceFuturesAdapter;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ ex, adapter, cleanup } = await manualExchange({ slippageBps: 2 }));
  });
  afterAll(() => cleanup());

  it('reads exchange info with Binance filters, USDT and USDC margined', async () => {
    const info = await adapter.exchangeInfo();
    expect([...info.keys()].sort()).toEqual(['AVAXUSDC', 'BTCUSDT', 'ETHUSDT']);
    const btc = await adapter.rules('BTCUSDT');
    // From the shipped snapshot of Binance's exchangeInfo, not derived from the price.
    expect(btc).toMatchObject({ quoteAsset: 'USDT', stepSize: 0.0001, tickSize: 0.1, minNotional: 100 });
    expect(await adapter.rules('ETHUSDT')).toMatchObject({ stepSize: 0.001, tickSize: 0.01, minNotional: 20 });
    expect((await adapter.rules('AVAXUSDC')).quoteAsset).toBe('USDC');
    await expect(adapter.rules('NOPEUSDT')).rejects.toMatchObject({ kind: 'rejected' });
  });

  it('reads mark prices and klines', async () => {
    expect(await adapter.markPrice('BTCUSDT')).toBe(60_000);
    const all = await adapter.markPrices();
    expect(all.get('ETHUSDT')).toBe(3_000);
    await setPrice(ex, 'BTCUSDT', 60_100);
    const k = await adapter.klines('BTCUSDT', '5m', 10);
    expect(k.length).toBeGreaterThan(0);
    expect(k[k.length - 1]).toMatchObject({ high: 60_100, close: 60_100 });
  });

  it('prepares a symbol idempotently (one-way, cross, leverage)', async () => {
    await adapter.prepareSymbol('BTCUSDT', 5);
    await adapter.prepareSymbol('BTCUSDT', 5);
    await adapter.prepareSymbol('ETHUSDT', 10);
    expect(ex.engine.leverageOf('BTCUSDT')).toBe(5);
    expect(ex.engine.leverageOf('ETHUSDT')).toBe(10);
  });

  it('places a MARKET order rounded down to the step, with slippage and taker fee', async () => {
    const o = await adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.010059, clientOrderId: 'adapter-buy-1' });
    expect(o).toMatchObject({ status: 'FILLED', origQty: 0.01, executedQty: 0.01, clientOrderId: 'adapter-buy-1', reduceOnly: false });
    expect(o.avgPrice).toBeCloseTo(60_100 * 1.0002, 1);
    const fills = await adapter.tradesForOrder('BTCUSDT', o.orderId);
    expect(fills).toHaveLength(1);
    expect(fills[0]!.commission).toBeCloseTo(o.avgPrice * 0.01 * TAKER_FEE_RATE, 8);
    expect(fills[0]!.commissionAsset).toBe('USDT');
    const pos = await adapter.positions('BTCUSDT');
    expect(pos).toHaveLength(1);
    expect(pos[0]).toMatchObject({ symbol: 'BTCUSDT', positionAmt: 0.01, entryPrice: o.avgPrice, leverage: 5 });
    const q = await adapter.getOrder('BTCUSDT', 'adapter-buy-1');
    expect(q).toMatchObject({ orderId: o.orderId, status: 'FILLED' });
    expect(await adapter.getOrder('BTCUSDT', 'never-sent')).toBeNull();
  });

  it('keeps USDT and USDC wallets apart and reports unrealized P&L', async () => {
    await setPrice(ex, 'BTCUSDT', 61_000);
    const b = await adapter.balances();
    const usdt = b.find((x) => x.asset === 'USDT')!;
    const usdc = b.find((x) => x.asset === 'USDC')!;
    expect(usdc.walletBalance).toBe(10_000);
    expect(usdt.walletBalance).toBeLessThan(10_000);
    expect(usdt.unrealizedProfit).toBeGreaterThan(8);
    expect(usdt.marginBalance).toBeCloseTo(usdt.walletBalance + usdt.unrealizedProfit, 6);
    const o = await adapter.placeMarketOrder({ symbol: 'AVAXUSDC', side: 'SELL', quantity: 3, clientOrderId: 'avax-short-1' });
    expect(o.status).toBe('FILLED');
    const fills = await adapter.tradesForOrder('AVAXUSDC', o.orderId);
    expect(fills[0]!.commissionAsset).toBe('USDC');
    expect((await adapter.balances()).find((x) => x.asset === 'USDC')!.walletBalance).toBeLessThan(10_000);
  });

  it('places, queries and cancels an algo stop by client id', async () => {
    const stop = await adapter.placeStopOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice: 59_000.04, clientAlgoId: 'stop-btc-1' });
    expect(stop).toMatchObject({ status: 'NEW', triggerPrice: 59_000, orderType: 'STOP_MARKET', actualOrderId: null });
    expect(await adapter.getAlgoOrder('BTCUSDT', 'stop-btc-1')).toMatchObject({ algoId: stop.algoId, status: 'NEW' });
    expect((await adapter.openAlgoOrders()).map((a) => a.clientAlgoId)).toContain('stop-btc-1');
    expect((await adapter.openAlgoOrders('ETHUSDT')).map((a) => a.clientAlgoId)).not.toContain('stop-btc-1');
    await adapter.cancelAlgoOrder('BTCUSDT', 'stop-btc-1');
    expect((await adapter.openAlgoOrders('BTCUSDT')).map((a) => a.clientAlgoId)).not.toContain('stop-btc-1');
    expect((await adapter.getAlgoOrder('BTCUSDT', 'stop-btc-1'))!.status).toBe('CANCELED');
    expect(await adapter.getAlgoOrder('BTCUSDT', 'no-such-algo')).toBeNull();
    await expect(adapter.cancelAlgoOrder('BTCUSDT', 'stop-btc-1')).rejects.toMatchObject({ kind: 'rejected', code: -2011 });
  });

  it('triggers a closePosition stop on the mark price and closes the whole position', async () => {
    await adapter.placeStopOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice: 60_500, clientAlgoId: 'stop-btc-2' });
    const tp = await adapter.placeStopOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'TAKE_PROFIT_MARKET', triggerPrice: 63_000, clientAlgoId: 'tp-btc-2' });
    await setPrice(ex, 'BTCUSDT', 60_400);
    const fired = (await adapter.getAlgoOrder('BTCUSDT', 'stop-btc-2'))!;
    expect(fired.status).toBe('FINISHED');
    expect(fired.actualOrderId).not.toBeNull();
    const fills = await adapter.tradesForOrder('BTCUSDT', fired.actualOrderId!);
    expect(fills[0]).toMatchObject({ side: 'SELL', qty: 0.01 });
    expect(fills[0]!.realizedPnl).toBeGreaterThan(0);
    expect(await adapter.positions('BTCUSDT')).toEqual([]);
    // The take-profit of a position that no longer exists expires when it triggers.
    await setPrice(ex, 'BTCUSDT', 63_500);
    expect((await adapter.getAlgoOrder('BTCUSDT', tp.clientAlgoId))!.status).toBe('EXPIRED');
  });

  it('reduce-only closes at most the position', async () => {
    await adapter.placeMarketOrder({ symbol: 'ETHUSDT', side: 'SELL', quantity: 0.5, clientOrderId: 'eth-short-1' });
    const close = await adapter.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 2, reduceOnly: true, clientOrderId: 'eth-close-1' });
    expect(close).toMatchObject({ executedQty: 0.5, reduceOnly: true });
    expect(await adapter.positions('ETHUSDT')).toEqual([]);
  });

  it('cancelling a filled MARKET order is refused (-2011)', async () => {
    await expect(adapter.cancelOrder('ETHUSDT', 'eth-close-1')).rejects.toMatchObject({ kind: 'rejected', code: -2011 });
  });

  it('paper venue uses the local exchange keys, never Binance keys from the environment', async () => {
    const paper = createExchange({ venue: 'paper', baseUrl: ex.baseUrl, credentials: new ApiCredentials('real-binance-key', 'real-binance-secret') });
    expect((await paper.balances()).map((b) => b.asset).sort()).toEqual(['USDC', 'USDT']);
  });

  it('never shows the API secret', () => {
    const shown = [inspect(adapter, { depth: 10, showHidden: true }), String(adapter), JSON.stringify(adapter)].join('\n');
    expect(shown).not.toContain(ex.apiSecret);
  });
});
