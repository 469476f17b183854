/**
 * A trading worker in its own process, so a test can SIGKILL it mid-loop and mid-position.
 * Configured by environment: QT_TEST_TEMPORAL, QT_TEST_DB, QT_TEST_EXCHANGE, QT_TEST_QUEUE and
 * QT_TEST_SIGNALS (JSON {"SYMBOL": ["BUY", 0.8]}).
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { DEFAULT_RISK_LIMITS } from '../../core/risk.js';
import type { Signal } from '../../core/types.js';
import { ScriptedSignalSource } from '../../activities/signal-source.js';
import { wireActivities } from '../../activities/wiring.js';
import { createExchange } from '../../exchange/index.js';
import { Journal } from '../../journal/index.js';
import { createTradingWorker } from '../../worker/create-worker.js';
import { installTemporalLogger } from '../../worker/runtime.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

installTemporalLogger(pino({ level: 'error' }));

const signals = new ScriptedSignalSource();
for (const [symbol, [signal, confidence]] of Object.entries(JSON.parse(env('QT_TEST_SIGNALS')) as Record<string, [Signal, number]>)) {
  signals.set(symbol, signal, confidence);
}
const exchange = createExchange({ venue: 'paper', baseUrl: env('QT_TEST_EXCHANGE') });
const journal = await Journal.connect(env('QT_TEST_DB'));
const log = pino({ level: 'silent' });
const client = new Client({ connection: await Connection.connect({ address: env('QT_TEST_TEMPORAL') }) });
const temporal = { client, taskQueue: env('QT_TEST_QUEUE') };
const { activities } = wireActivities({ exchange, journal, signals, candleHistory: 10, risk: () => DEFAULT_RISK_LIMITS, log, summaryWindowMs: 1000, temporal });
const connection = await NativeConnection.connect({ address: env('QT_TEST_TEMPORAL') });
const worker = await createTradingWorker({ connection, namespace: 'default', taskQueue: env('QT_TEST_QUEUE'), activities });
console.log('worker ready');
await worker.run();
