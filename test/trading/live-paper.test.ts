import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ScriptedSignalSource } from '../../activities/signal-source.js';
import { startPaperExchange } from '../../client/commands/stack.js';
import { loadConfig, type AppConfig } from '../../core/config.js';
import { exitLevels } from '../../core/exits.js';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import { startWorker, type RunningWorker } from '../../worker/runtime.js';
import { positionStateQuery, positionWorkflowId, symbolStateQuery, symbolWorkflowId } from '../../workflows/contracts.js';
import { symbolWorkflow } from '../../workflows/symbol.js';
import { createTestJournal } from '../helpers/db.js';
import { TEST_PARAMS, eventually, uniqueSymbol } from './harness.js';

/**
 * Paper trading on live prices, end to end: QT_MARKET_DATA=live with the paper venue, a second local
 * exchange standing in for Binance as the upstream (its prices set by hand), the paper exchange `npm start`
 * would start (startPaperExchange), and the real worker (startWorker: market streams, activities,
 * workflows) with scripted signals. Positions open at the upstream's price and close on its moves.
 */
describe('paper trading on live prices (stand-in upstream)', () => {
  const long = uniqueSymbol();
  const short = uniqueSymbol();
  const quiet = pino({ level: process.env.QT_TEST_VERBOSE ? 'info' : 'silent' });
  const signals = new ScriptedSignalSource();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'qt-live-paper-'));
  let upstream: LocalExchange;
  let paper: LocalExchange;
  let worker: RunningWorker;
  let client: Client;
  let config: AppConfig;
  let db: Awaited<ReturnType<typeof createTestJournal>>;

  const setUpstreamPrice = async (symbol: string, price: number) => {
    const res = await fetch(`${upstream.baseUrl}/admin/price`, { method: 'POST', body: JSON.stringify({ symbol, price }) });
    if (!res.ok) throw new Error(`admin/price ${res.status}`);
  };

  beforeAll(async () => {
    upstream = await startLocalExchange({ port: 0, feed: { kind: 'manual', prices: { [long]: 100, [short]: 50 } } });
    config = loadConfig({
      QT_MARKET_DATA: 'live',
      QT_UPSTREAM_URL: upstream.baseUrl,
      QT_UPSTREAM_WS_URL: upstream.wsUrl,
      QT_SYMBOLS: `${long},${short}`,
      QT_TASK_QUEUE: `test-live-${randomBytes(4).toString('hex')}`,
      QT_HEALTH_PORT: '0',
      QT_CHECK_INTERVAL: '1',
    });
    paper = await startPaperExchange(config, stateDir);
    db = await createTestJournal();
    const temporalAddress = inject('temporalAddress');
    worker = await startWorker(config, { temporalAddress, databaseUrl: db.url, exchangeUrl: paper.baseUrl, credentials: null }, { log: quiet, signals });
    client = new Client({ connection: await Connection.connect({ address: temporalAddress }) });
  });

  afterAll(async () => {
    for (const symbol of [long, short]) await client?.workflow.getHandle(symbolWorkflowId(symbol)).terminate('test finished').catch(() => {});
    await worker?.shutdown();
    await client?.connection.close();
    await paper?.close();
    await upstream?.close();
    await db?.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function startLoop(symbol: string) {
    await client.workflow.start(symbolWorkflow, {
      workflowId: symbolWorkflowId(symbol),
      taskQueue: config.taskQueue,
      args: [{ symbol, params: TEST_PARAMS, flags: { aiTradingEnabled: true, executionEnabled: true } }],
    });
  }

  async function openPosition(symbol: string) {
    const id = await eventually(async () => (await client.workflow.getHandle(symbolWorkflowId(symbol)).query(symbolStateQuery)).openPositionId, `${symbol} to open`);
    const handle = client.workflow.getHandle(positionWorkflowId(id));
    const state = await eventually(async () => {
      const p = await handle.query(positionStateQuery);
      return p.state.stage === 'OPEN' ? p : null;
    }, `${id} to be OPEN`);
    return { ...state, handle, id };
  }

  async function paperFills(symbol: string): Promise<{ price: number; side: string }[]> {
    const s = (await (await fetch(`${paper.baseUrl}/admin/state`)).json()) as { fills: { symbol: string; price: string; side: string }[] };
    return s.fills.filter((f) => f.symbol === symbol).map((f) => ({ price: Number(f.price), side: f.side }));
  }

  it('follows the upstream on the worker: marks arrive through the paper exchange\'s streams', async () => {
    await setUpstreamPrice(long, 100.5);
    await eventually(async () => paper.engine.mark(long) === 100.5 && worker.marketData.status().stale.length === 0, 'the paper mark and the worker stream');
    expect(worker.marketData.status().symbols).toBe(2);
  });

  it('opens a LONG at the upstream price and takes profit when the upstream moves through the level', async () => {
    await setUpstreamPrice(long, 100);
    await eventually(async () => paper.engine.mark(long) === 100, 'paper at 100');
    signals.set(long, 'BUY', 0.8);
    await startLoop(long);
    const pos = await openPosition(long);
    signals.set(long, 'HOLD', 0.9);
    expect(pos.side).toBe('LONG');
    expect(pos.state.entryPrice).toBeGreaterThanOrEqual(100);
    expect(pos.state.entryPrice).toBeLessThan(100.2);
    const { takeProfit } = exitLevels('LONG', pos.state.entryPrice, pos.params);
    await setUpstreamPrice(long, Number((takeProfit * 1.001).toFixed(3)));
    const result = await pos.handle.result();
    expect(result.exitReason).toBe('TAKE_PROFIT');
    const fills = await paperFills(long);
    expect(fills.map((f) => f.side)).toEqual(['BUY', 'SELL']);
    expect(fills[1]!.price).toBeGreaterThanOrEqual(takeProfit * 0.999);
    const row = await db.journal.getPosition(pos.id);
    expect(row?.status).toBe('CLOSED');
    expect(row!.netPnl!).toBeGreaterThan(0);
    // Nothing was traded on the upstream: paper orders stay on the paper exchange.
    expect(((await (await fetch(`${upstream.baseUrl}/admin/state`)).json()) as { fills: unknown[] }).fills).toEqual([]);
  });

  it('opens a SHORT and the exchange-side stop fires on the paper exchange when the upstream rises through it', async () => {
    signals.set(short, 'SELL', 0.7);
    await startLoop(short);
    const pos = await openPosition(short);
    signals.set(short, 'HOLD', 0.9);
    expect(pos.side).toBe('SHORT');
    const stop = pos.state.stopPrice!;
    await setUpstreamPrice(short, Number((stop * 1.003).toFixed(3)));
    const result = await pos.handle.result();
    expect(result.exitReason).toBe('STOP_LOSS');
    const row = await db.journal.getPosition(pos.id);
    expect(row?.status).toBe('CLOSED');
    expect(row!.netPnl!).toBeLessThan(0);
  });
});
