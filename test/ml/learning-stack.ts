import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import { Journal } from '../../journal/index.js';
import { createTestJournal } from '../helpers/db.js';
import { createTestNamespace } from '../helpers/temporal.js';
import { runQt, type CliResult } from '../helpers/qt-cli.js';

/** Four symbols, 2025-09-01 .. 2025-09-10 (5 m): small enough that a retraining takes seconds. */
const SLICE = 'test/fixtures/ml-slice';
/** The replay clock starts here: eight days of history behind it, the retraining window ends at it. */
export const REPLAY_START = Date.UTC(2025, 8, 9);

/**
 * The learning loop's real parts: a fresh journal, the local exchange replaying the slice, and the worker
 * as its own process (`qt worker`, so a test can SIGKILL it), configured for a small, fast retraining.
 */
export interface LearningStack {
  env: Record<string, string>;
  journal: Journal;
  client: Client;
  storeDir: string;
  healthUrl: string;
  startWorker(): Promise<void>;
  killWorker(): Promise<void>;
  qt(args: string[], timeoutMs?: number): Promise<CliResult>;
  close(): Promise<void>;
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

/**
 * `ownNamespace`: a Temporal namespace of its own, for a stack that runs symbol loops (`qt start`): their
 * workflow ids name real symbols, which other test files running at the same time use too.
 */
export async function startLearningStack(opts: { ownNamespace?: boolean } = {}): Promise<LearningStack> {
  const db = await createTestJournal();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'qt-learning-'));
  const exchange: LocalExchange = await startLocalExchange({ port: 0, stateFile: path.join(stateDir, 'exchange.json'), feed: { kind: 'replay', dir: SLICE, speed: 1, start: REPLAY_START } });
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const namespace = opts.ownNamespace ? await createTestNamespace(connection) : 'default';
  const client = new Client({ connection, namespace });
  const healthPort = await freePort();
  const storeDir = path.join(stateDir, 'models');
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: namespace,
    DATABASE_URL: db.url,
    QT_EXCHANGE_URL: exchange.baseUrl,
    QT_TASK_QUEUE: `learning-${randomBytes(4).toString('hex')}`,
    QT_SYMBOLS: 'BTCUSDT,ETHUSDT',
    QT_CHECK_INTERVAL: '1',
    QT_ENABLE_EXECUTION: 'false',
    QT_REPLAY_DIR: SLICE,
    QT_MODEL_STORE_DIR: storeDir,
    QT_MODEL_REFRESH_SECONDS: '1',
    QT_RETRAIN_SYMBOLS: 'BTCUSDT,DOGEUSDT,ETHUSDT,SOLUSDT',
    QT_RETRAIN_WINDOW_DAYS: '5',
    QT_RETRAIN_FOLDS: '2',
    QT_RETRAIN_TREES: '10',
    QT_RETRAIN_MAX_ROWS: '20000',
    QT_HEALTH_PORT: String(healthPort),
    QT_LOG_FORMAT: 'json',
  };
  let worker: ChildProcess | null = null;
  const stack: LearningStack = {
    env,
    journal: db.journal,
    client,
    storeDir,
    healthUrl: `http://127.0.0.1:${healthPort}/health`,
    async startWorker() {
      const child = spawn(process.execPath, ['--import', 'tsx', 'client/main.ts', 'worker'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
      worker = child;
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (process.env.QT_TEST_VERBOSE) process.stdout.write(d);
          if (out.includes('"worker started"')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`worker exited early (${code}): ${out.slice(-2000)}`)));
      });
    },
    async killWorker() {
      const child = worker;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      worker = null;
    },
    qt: (args, timeoutMs = 120_000) => runQt(args, env, timeoutMs),
    async close() {
      const running: string[] = [];
      for await (const wf of client.workflow.list({ query: `TaskQueue = '${env.QT_TASK_QUEUE}' AND ExecutionStatus = 'Running'` })) running.push(wf.workflowId);
      await Promise.all(running.map((id) => client.workflow.getHandle(id).terminate('test finished').catch(() => {})));
      await client.schedule.getHandle(`qt-retrain-${env.QT_TASK_QUEUE}`).delete().catch(() => {});
      await stack.killWorker();
      await connection.close();
      await exchange.close();
      await db.cleanup();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return stack;
}
