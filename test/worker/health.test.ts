import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { freePort } from '../../infra/process.js';
import { installTemporalLogger, startWorker, type RunningWorker } from '../../worker/runtime.js';
import { manualExchange, setPrice } from '../exchange/helpers.js';
import { useTestJournal } from '../helpers/db.js';
import { uniqueTaskQueue } from '../helpers/temporal.js';

/**
 * The worker process's own endpoints, with everything real: the shipped model, the local exchange
 * through the binance client, Postgres and the Temporal dev server.
 */
installTemporalLogger(pino({ level: 'error' }));
const db = useTestJournal();

/** The value of one Prometheus sample line, e.g. `qt_open_positions{source="exchange"}`. */
function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`${series} not in /metrics:\n${metrics.split('\n').filter((l) => l.startsWith('qt_') && !l.includes('_bucket')).join('\n')}`);
  return Number(line.slice(series.length + 1));
}

describe('worker /health and /metrics', () => {
  let exchange: Awaited<ReturnType<typeof manualExchange>>;
  let worker: RunningWorker;
  let base: string;

  beforeAll(async () => {
    exchange = await manualExchange();
    const port = await freePort();
    const config = loadConfig({ QT_HEALTH_PORT: String(port), QT_TASK_QUEUE: uniqueTaskQueue('health'), QT_SYMBOLS: 'BTCUSDT' });
    worker = await startWorker(config, { temporalAddress: inject('temporalAddress'), databaseUrl: db.url, exchangeUrl: exchange.ex.baseUrl, credentials: null }, { log: pino({ level: 'silent' }) });
    base = `http://127.0.0.1:${port}`;
  }, 120_000);
  afterAll(async () => {
    await worker?.shutdown();
    await exchange?.cleanup();
  });

  it('/health names the loaded model next to the other dependencies', async () => {
    const res = await fetch(`${base}/health`);
    const body = (await res.json()) as Record<string, { status: string; name?: string; source?: string }>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    // The shipped model, seeded into the registry on first start and served from it.
    expect(body.model).toMatchObject({ status: 'up', name: 'xgb-v1', source: 'registry' });
    for (const dep of ['worker', 'temporal', 'postgres', 'exchange']) expect(body[dep]?.status, dep).toBe('up');
  });

  it('/metrics shows realized and unrealized P&L, open positions and exposure', async () => {
    const before = await (await fetch(`${base}/metrics`)).text();
    expect(sample(before, 'qt_open_positions{source="exchange"}')).toBe(0);
    expect(sample(before, 'qt_exposure_notional')).toBe(0);
    expect(sample(before, 'qt_realized_pnl{window="total"}')).toBe(0);

    // A LONG 0.01 BTC at 60,000 on the exchange, marked at 61,000: +10 unrealized, 610 exposure.
    await exchange.adapter.prepareSymbol('BTCUSDT', 5);
    await exchange.adapter.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.01, clientOrderId: 'health-long-1' });
    await setPrice(exchange.ex, 'BTCUSDT', 61_000);
    // One closed position and one open position in the journal.
    const at = new Date();
    await db.journal.openPosition({ positionId: 'h1', workflowId: 'w', symbol: 'ETHUSDT', side: 'SHORT', quantity: 1, entryPrice: 3000, entryFee: 1.5, openedAt: at, stopPrice: null, takeProfitPrice: null });
    await db.journal.closePosition({ positionId: 'h1', exitPrice: 2990, exitReason: 'TAKE_PROFIT', exitFee: 1.5, grossPnl: 10, netPnl: 7, closedAt: at });
    await db.journal.openPosition({ positionId: 'h2', workflowId: 'w', symbol: 'BTCUSDT', side: 'LONG', quantity: 0.01, entryPrice: 60_000, entryFee: 0.3, openedAt: at, stopPrice: null, takeProfitPrice: null });

    const after = await (await fetch(`${base}/metrics`)).text();
    const entry = (await exchange.adapter.positions('BTCUSDT'))[0]!.entryPrice; // slippage moves it off 60,000
    expect(sample(after, 'qt_open_positions{source="exchange"}')).toBe(1);
    expect(sample(after, 'qt_open_positions{source="journal"}')).toBe(1);
    expect(sample(after, 'qt_unrealized_pnl')).toBeCloseTo((61_000 - entry) * 0.01, 6);
    expect(sample(after, 'qt_exposure_notional')).toBeCloseTo(610, 6);
    expect(sample(after, 'qt_realized_pnl{window="total"}')).toBeCloseTo(7, 10);
    expect(sample(after, 'qt_realized_pnl{window="today"}')).toBeCloseTo(7, 10);
  });
});
