import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import { inject } from 'vitest';
import { DEFAULT_PARAMS, type TradingParams } from '../../core/params.js';
import { DEFAULT_RISK_LIMITS, type RiskLimits } from '../../core/risk.js';
import { ScriptedSignalSource, type SignalSource } from '../../activities/signal-source.js';
import { wireActivities } from '../../activities/wiring.js';
import { createExchange, type ExchangeConfig } from '../../exchange/index.js';
import { startLocalExchange, type FeedOptions, type LocalExchange } from '../../exchange/sim/server.js';
import type { FuturesExchange } from '../../exchange/types.js';
import { Journal } from '../../journal/index.js';
import { bundleWorkflows, createTradingWorker } from '../../worker/create-worker.js';
import { installTemporalLogger } from '../../worker/runtime.js';
import { positionStateQuery, positionWorkflowId, symbolStateQuery, symbolWorkflowId, type SymbolWorkflowInput } from '../../workflows/contracts.js';
import { symbolWorkflow } from '../../workflows/symbol.js';
import { createTestJournal } from '../helpers/db.js';
import { ensureBookkeepers } from '../../worker/bookkeepers.js';
import { mapLimit } from '../../core/map-limit.js';
import type { OrphanPolicy } from '../../core/config.js';
import { sleep } from '../../infra/sleep.js';


/** Fast loop settings for tests: a 1 s interval and short cooldown, the real exit percentages. */
export const TEST_PARAMS: TradingParams = { ...DEFAULT_PARAMS, checkIntervalSeconds: 1, cooldownSeconds: 4, positionCheckSeconds: 1 };

let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;
const sharedBundle = () => (bundle ??= bundleWorkflows());

/** A symbol name no other test uses, so workflow ids never collide on the shared server. */
export const uniqueSymbol = (): string => `T${randomBytes(3).toString('hex').toUpperCase()}USDT`;

installTemporalLogger(pino({ level: 'error' }));

export interface Harness {
  client: Client;
  taskQueue: string;
  /** The limits the risk checks use; tests may change them between steps. */
  riskLimits: RiskLimits;
  exchange: FuturesExchange;
  localExchange: LocalExchange;
  journal: Journal;
  journalUrl: string;
  signals: ScriptedSignalSource;
  stateDir: string;
  setPrice(symbol: string, price: number): Promise<void>;
  adminState(): Promise<AdminState>;
  /** `workflows`: another workflow bundle than the project's (e.g. earlier workflow code). */
  startWorker(workflows?: WorkflowBundleWithSourceMap): Promise<void>;
  stopWorker(): Promise<void>;
  startSymbol(symbol: string, params?: Partial<TradingParams>, extra?: Partial<SymbolWorkflowInput>): Promise<void>;
  symbolState(symbol: string): ReturnType<typeof querySymbolState>;
  close(): Promise<void>;
}

export interface AdminState {
  fills: { symbol: string; orderId: number; side: string; price: number; qty: number; commission: number; realizedPnl: number }[];
  orders: { symbol: string; clientOrderId: string; status: string }[];
}

async function querySymbolState(client: Client, symbol: string) {
  return client.workflow.getHandle(symbolWorkflowId(symbol)).query(symbolStateQuery);
}

export interface HarnessOptions {
  risk?: Partial<RiskLimits>;
  /** Journal on this server (e.g. a test's own restartable Postgres) instead of a fresh shared-server database. */
  databaseUrl?: string;
  /** Adapter options (a weight budget, a clock for its minutes). */
  adapter?: Pick<ExchangeConfig, 'weightLimitPerMinute' | 'serverClock'>;
  /** What the worker's activities see instead of the adapter (fault injection at the client boundary). */
  wrapExchange?: (exchange: FuturesExchange) => FuturesExchange;
  /** How long one account position read serves every position workflow. */
  accountReadMaxAgeMs?: number;
  /** Another Temporal server than the run's shared one (e.g. one with its Web UI). */
  temporalAddress?: string;
  /** Reconciliation period once a worker runs (a pass also runs at every worker start); default one hour. */
  reconcileSeconds?: number;
  orphanPolicy?: OrphanPolicy;
  /** The local exchange's market data; default prices set by hand (setPrice). */
  feed?: FeedOptions;
  intrabarStepMs?: number;
  /** What scores the loops instead of the scripted source (e.g. a strategy's), and the closed candles it needs. */
  signalSource?: SignalSource;
  candleHistory?: number;
}

async function journalFor(databaseUrl: string | undefined) {
  if (!databaseUrl) return createTestJournal();
  const journal = await Journal.connect(databaseUrl);
  await journal.migrate();
  return { journal, url: databaseUrl, cleanup: () => journal.close() };
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'qt-trading-'));
  const localExchange = await startLocalExchange({
    port: 0,
    stateFile: path.join(stateDir, 'exchange.json'),
    feed: opts.feed ?? { kind: 'manual' },
    tickMs: 100,
    ...(opts.intrabarStepMs ? { intrabarStepMs: opts.intrabarStepMs } : {}),
  });
  const exchange = createExchange({ venue: 'paper', baseUrl: localExchange.baseUrl, ...opts.adapter });
  const db = await journalFor(opts.databaseUrl);
  const signals = new ScriptedSignalSource();
  const address = opts.temporalAddress ?? inject('temporalAddress');
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection });
  const log = pino({ level: process.env.QT_TEST_VERBOSE ? 'info' : 'silent' });
  const riskLimits: RiskLimits = { ...DEFAULT_RISK_LIMITS, ...opts.risk };
  const { activities } = wireActivities({
    exchange: opts.wrapExchange ? opts.wrapExchange(exchange) : exchange,
    journal: db.journal,
    signals: opts.signalSource ?? signals,
    candleHistory: opts.candleHistory ?? 10,
    ...(opts.accountReadMaxAgeMs !== undefined ? { accountReadMaxAgeMs: opts.accountReadMaxAgeMs } : {}),
    risk: () => riskLimits,
    log,
    summaryWindowMs: 1000,
    temporal: { client, taskQueue, orphanPolicy: opts.orphanPolicy ?? 'adopt' },
  });

  let worker: Worker | null = null;
  let running: Promise<void> | null = null;
  let workerConnection: NativeConnection | null = null;

  const admin = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${localExchange.baseUrl}${p}`, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  };

  const h: Harness = {
    client,
    taskQueue,
    riskLimits,
    exchange,
    localExchange,
    journal: db.journal,
    journalUrl: db.url,
    signals,
    stateDir,
    setPrice: async (symbol, price) => void (await admin('POST', '/admin/price', { symbol, price })),
    async adminState() {
      // The admin view uses Binance's wire format: numbers as strings.
      const raw = (await admin('GET', '/admin/state')) as { fills: Record<string, string>[]; orders: AdminState['orders'] };
      const fills = raw.fills.map((f) => ({
        symbol: f.symbol!,
        orderId: Number(f.orderId),
        side: f.side!,
        price: Number(f.price),
        qty: Number(f.qty),
        commission: Number(f.commission),
        realizedPnl: Number(f.realizedPnl),
      }));
      return { fills, orders: raw.orders };
    },
    async startWorker(workflows) {
      workerConnection = await NativeConnection.connect({ address });
      worker = await createTradingWorker({ connection: workerConnection, namespace: 'default', taskQueue, activities, workflowBundle: workflows ?? (await sharedBundle()) });
      running = worker.run();
      await ensureBookkeepers(client, { taskQueue, reconcileSeconds: opts.reconcileSeconds ?? 3600, orphanPolicy: opts.orphanPolicy ?? 'adopt', params: TEST_PARAMS });
    },
    async stopWorker() {
      worker?.shutdown();
      const w = worker;
      const probe = process.env.QT_TEST_VERBOSE ? setInterval(() => w && console.log('worker status', JSON.stringify(w.getStatus())), 5000) : null;
      await running;
      if (probe) clearInterval(probe);
      await workerConnection?.close();
      worker = null;
    },
    async startSymbol(symbol, params = {}, extra = {}) {
      await client.workflow.start(symbolWorkflow, {
        workflowId: symbolWorkflowId(symbol),
        taskQueue,
        args: [{ symbol, params: { ...TEST_PARAMS, ...params }, flags: { aiTradingEnabled: true, executionEnabled: true }, ...extra }],
      });
    },
    symbolState: (symbol) => querySymbolState(client, symbol),
    async close() {
      const t0 = Date.now();
      const mark = (what: string) => process.env.QT_TEST_VERBOSE && console.log(`harness close: ${what} after ${Date.now() - t0} ms`);
      const running: string[] = [];
      for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` })) running.push(wf.workflowId);
      await mapLimit(running, 16, (id) => client.workflow.getHandle(id).terminate('test finished').catch(() => {}));
      mark(`${running.length} workflows terminated`);
      await h.stopWorker();
      mark('worker stopped');
      await clientConnection.close();
      await localExchange.close();
      await db.cleanup();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Poll `probe` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Wait until the symbol has an open position whose entry filled; returns the position's state. */
export async function openedPosition(h: Harness, symbol: string) {
  const positionId = await eventually(async () => (await h.symbolState(symbol)).openPositionId, `${symbol} to open a position`);
  const handle = h.client.workflow.getHandle(positionWorkflowId(positionId));
  return eventually(async () => {
    const p = await handle.query(positionStateQuery);
    return p.state.stage === 'OPEN' ? { ...p, handle } : null;
  }, `${positionId} to be OPEN`);
}

/** Set a price and wait until the position workflow has read it (so each price is seen). */
export async function showPrice(h: Harness, positionId: string, symbol: string, price: number): Promise<void> {
  await h.setPrice(symbol, price);
  const handle = h.client.workflow.getHandle(positionWorkflowId(positionId));
  await eventually(async () => {
    const p = await handle.query(positionStateQuery);
    return (p.state.lastMark !== null && Math.abs(p.state.lastMark - price) <= price * 1e-9) || p.state.stage === 'CLOSED' || p.state.stage === 'EXITING';
  }, `${positionId} to see ${price}`);
}
