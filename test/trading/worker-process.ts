/**
 * A trading worker in its own process, so a test can SIGKILL it mid-loop and mid-position.
 * Configured by environment: QT_TEST_TEMPORAL, QT_TEST_DB, QT_TEST_EXCHANGE, QT_TEST_QUEUE and
 * QT_TEST_SIGNALS (JSON {"SYMBOL": ["BUY", 0.8]}).
 */
import { NativeConnection, Runtime } from '@temporalio/worker';
import pino from 'pino';
import { DEFAULT_RISK_LIMITS } from '../../core/risk.js';
import type { Signal } from '../../core/types.js';
import { createActivities } from '../../activities/index.js';
import { CandleCache } from '../../activities/market-data.js';
import { createMetrics } from '../../activities/metrics.js';
import { SignalLog } from '../../activities/signal-log.js';
import { ScriptedSignalSource } from '../../activities/signal-source.js';
import { createExchange } from '../../exchange/index.js';
import { Journal } from '../../journal/index.js';
import { createTradingWorker } from '../../worker/create-worker.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

Runtime.install({ logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m) } as never });

const signals = new ScriptedSignalSource();
for (const [symbol, [signal, confidence]] of Object.entries(JSON.parse(env('QT_TEST_SIGNALS')) as Record<string, [Signal, number]>)) {
  signals.set(symbol, signal, confidence);
}
const exchange = createExchange({ venue: 'paper', baseUrl: env('QT_TEST_EXCHANGE') });
const journal = await Journal.connect(env('QT_TEST_DB'));
const log = pino({ level: 'silent' });
const activities = createActivities({
  exchange,
  journal,
  candles: new CandleCache(exchange, 10),
  signals,
  risk: () => DEFAULT_RISK_LIMITS,
  log,
  signalLog: new SignalLog(log, 1000),
  metrics: createMetrics(),
});
const connection = await NativeConnection.connect({ address: env('QT_TEST_TEMPORAL') });
const worker = await createTradingWorker({ connection, namespace: 'default', taskQueue: env('QT_TEST_QUEUE'), activities });
console.log('worker ready');
await worker.run();
