import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import protos from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessStack } from '../../chaos/stack.js';
import { sleep } from '../../infra/sleep.js';
import { Journal } from '../../journal/journal.js';

/**
 * A paper session whose operator environment holds recognisable fake Binance keys: the real worker (its
 * own process, given the keys), Temporal, Postgres and the local exchange as child processes, the fleet
 * started and inspected with the real `qt`. Afterwards the keys must appear nowhere: not in any workflow
 * history (read through the Temporal API), the logs, any journal table, /health or /metrics, nor in the
 * environment of the server processes.
 */

const KEY = `QTFAKEKEY${randomBytes(12).toString('hex')}`;
const SECRET = `QTFAKESECRET${randomBytes(16).toString('hex')}`;
const FIXTURES = path.resolve('test/fixtures/exchange');
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'DOGEUSDT'];

/** Where either fake credential occurs in `haystack` (as text or as raw bytes). */
function leaks(haystack: string | Uint8Array): string[] {
  const text = typeof haystack === 'string' ? haystack : Buffer.from(haystack).toString('latin1');
  return [KEY, SECRET].filter((needle) => text.includes(needle)).map((needle) => (needle === KEY ? 'BINANCE_API_KEY' : 'BINANCE_API_SECRET'));
}

const environOf = (pid: number): string => readFileSync(`/proc/${pid}/environ`, 'latin1');

describe('secrets stay in the environment of the process that trades', () => {
  let dir: string;
  let stack: ProcessStack;
  let client: Client;
  let connection: Connection;
  let journal: Journal;
  const saved = { key: process.env.BINANCE_API_KEY, secret: process.env.BINANCE_API_SECRET };
  const endpoints: Record<string, string> = {};
  const environs: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'qt-secrets-'));
    // The operator's shell exports the keys: every child of this process would inherit them unless withheld.
    process.env.BINANCE_API_KEY = KEY;
    process.env.BINANCE_API_SECRET = SECRET;
    stack = await ProcessStack.start({
      dir,
      dataDir: FIXTURES,
      symbols: SYMBOLS,
      replaySpeed: 60,
      replayStart: Date.UTC(2025, 7, 1, 6),
      settings: {
        QT_SYMBOLS: SYMBOLS.join(','),
        QT_SIGNAL_SOURCE: 'random:5:0.7',
        QT_CHECK_INTERVAL: '1',
        QT_COOLDOWN_SECONDS: '1',
        QT_POSITION_CHECK_SECONDS: '1',
        QT_MAX_HOLD_SECONDS: '60',
        QT_TAKE_PROFIT_PCT: '0.2',
        QT_STOP_LOSS_PCT: '0.2',
        // Everything the worker and the Temporal SDK would say.
        QT_LOG_LEVEL: 'debug',
      },
      workerEnv: { BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET },
    });
    connection = await Connection.connect({ address: stack.temporalAddress });
    client = new Client({ connection });
    // The journal's own pool: it survives Postgres stopping under a client still closing (pool.end() resolves first).
    journal = await Journal.connect(stack.databaseUrl, { max: 2 });

    expect((await stack.qt(['start'])).code).toBe(0);
    // Trade until positions have opened and closed (entries, stops, exits, fills all journaled), with an
    // exchange fault on the way so error paths log too.
    await stack.admin('POST', '/admin/faults', { errorRate5xx: 0.3 });
    await sleep(4_000);
    await stack.admin('DELETE', '/admin/faults');
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const { rows } = await journal.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM positions WHERE status = 'CLOSED'`);
      if (rows[0]!.n >= 1) break;
      await sleep(1_000);
    }
    for (const args of [['status', '--json'], ['config', 'get'], ['kill', '--flatten', '--reason', 'secrets test'], ['resume']]) {
      expect((await stack.qt(args)).code).toBe(0);
    }
    for (const route of ['/health', '/metrics']) endpoints[route] = await (await fetch(`${stack.healthUrl}${route}`)).text();
    for (const [name, pid] of Object.entries(stack.pids())) if (pid) environs[name] = environOf(pid);
  }, 300_000);

  afterAll(async () => {
    if (saved.key === undefined) delete process.env.BINANCE_API_KEY;
    else process.env.BINANCE_API_KEY = saved.key;
    if (saved.secret === undefined) delete process.env.BINANCE_API_SECRET;
    else process.env.BINANCE_API_SECRET = saved.secret;
    await journal?.close();
    await connection?.close();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('the session really had the keys: the worker process holds them in its environment', () => {
    expect(leaks(environs.worker!)).toEqual(['BINANCE_API_KEY', 'BINANCE_API_SECRET']);
  });

  it('the Temporal server, Postgres and the exchange processes do not get BINANCE_* variables', () => {
    for (const name of ['temporal', 'postgres', 'exchange']) {
      expect(environs[name], `${name} environment read`).toBeTruthy();
      expect(environs[name]!.split('\0').filter((v) => v.startsWith('BINANCE_')), name).toEqual([]);
    }
  });

  it('no workflow history holds them (every event, payloads as raw bytes, read through the Temporal API)', async () => {
    const History = protos.temporal.api.history.v1.History;
    let histories = 0;
    let bytes = 0;
    for await (const wf of client.workflow.list()) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const encoded = History.encode(history).finish();
      histories++;
      bytes += encoded.length;
      expect(leaks(encoded), `${wf.workflowId} ${wf.runId}`).toEqual([]);
    }
    // Symbol loops plus position workflows: the search covered a real session.
    expect(histories).toBeGreaterThan(SYMBOLS.length);
    expect(bytes).toBeGreaterThan(10_000);
  });

  it('no log line holds them (worker at debug level, exchange, Temporal, Postgres, every qt command)', async () => {
    await stack.stopWorker();
    const logs = readdirSync(dir).filter((f) => f.endsWith('.log'));
    expect(logs).toEqual(expect.arrayContaining(['worker.log', 'exchange.log', 'qt.log', 'temporal.log', 'postgres.log']));
    for (const file of logs) expect(leaks(readFileSync(path.join(dir, file))), file).toEqual([]);
    expect(readFileSync(path.join(dir, 'worker.log'), 'utf8')).toContain('Order executed');
  });

  it('no journal table holds them (every row of every table, as text)', async () => {
    const { rows: tables } = await journal.pool.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`);
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['signals', 'orders', 'fills', 'positions', 'risk_state']));
    let rowsSeen = 0;
    for (const { name } of tables) {
      const { rows } = await journal.pool.query<{ row: string }>(`SELECT t::text AS row FROM "${name}" t`);
      rowsSeen += rows.length;
      expect(leaks(rows.map((r) => r.row).join('\n')), name).toEqual([]);
    }
    expect(rowsSeen).toBeGreaterThan(50);
  });

  it('/health and /metrics do not show them', () => {
    expect(endpoints['/health']).toContain('"worker"');
    expect(endpoints['/metrics']).toContain('qt_signals_total');
    for (const [route, body] of Object.entries(endpoints)) expect(leaks(body), route).toEqual([]);
  });
});
