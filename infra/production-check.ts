/**
 * `npm run stack:production-check [-- --symbols N --interval S --target S]`: the compose topology,
 * proven on this machine without Docker. Temporal's production server (the version docker-compose.yml
 * pins, built once from go.temporal.io/server or taken from PATH) on Postgres with its schema set up by
 * docker/temporal-schema.sh (the compose stack's own script) and several history shards; the
 * namespace and search attributes registered by infra/setup-temporal.ts (the compose `temporal-setup`
 * command); the paper exchange, two worker processes and the fleet started as their compose services
 * start them. Then one worker is SIGKILLed and the check measures how long until every symbol loop
 * has ticked again on the other one. Prints the figures; exits non-zero when a loop misses the target.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time.js';
import { Command, InvalidArgumentError } from 'commander';
import pg from 'pg';
import { DEFAULT_SYMBOLS } from '../core/config.js';
import { symbolWorkflowId } from '../workflows/contracts.js';
import { ManagedChild, freePort } from './process.js';
import { sleep } from './sleep.js';
import { postgresUrl, startEmbeddedPostgres, type RunningPostgres } from './postgres.js';
import { composeTemporalVersion, setUpTemporalSchema, startTemporalServer, temporalServerBinaries, type RunningTemporalServer } from './temporal-server.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const HISTORY_SHARDS = 4;

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const options = new Command('stack:production-check')
  .option('--symbols <n>', 'symbol loops in the fleet', positiveInt('--symbols'), 20)
  .option('--interval <seconds>', 'check interval of every loop', positiveInt('--interval'), 5)
  .option('--target <seconds>', 'every loop must tick again within this long after the kill', positiveInt('--target'), 15)
  .parse()
  .opts<{ symbols: number; interval: number; target: number }>();

const say = (line: string) => console.log(`[production-check] ${line}`);
const elapsed = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

const sharedData = path.resolve(ROOT, '..', 'shared', 'data', 'binance-futures-5m');
const dataDir = process.env.QT_DATA_DIR ?? (existsSync(sharedData) ? sharedData : path.join(ROOT, 'test', 'fixtures', 'ml-slice'));

/** Runs a one-shot command of the stack (set-up, `qt start`) without blocking Ctrl-C; fails with its output. */
function oneShot(what: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(async () => void child.kill('SIGTERM'));
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(output.trim()) : reject(new Error(`${what} failed (exit ${code}):\n${output}`))));
  });
}

/**
 * A service of the stack as its own process (what compose runs in a container). `node --import tsx`,
 * not the tsx CLI: that wrapper would take a signal meant for the service, and a SIGKILL would leave
 * the service itself running.
 */
function service(name: string, args: string[], env: NodeJS.ProcessEnv): ManagedChild {
  return new ManagedChild(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, ...env }, detached: true, log: (l) => process.env.QT_CHECK_VERBOSE && console.log(`  ${name}| ${l}`) });
}

async function waitForLine(child: ManagedChild, pattern: RegExp, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(child.recentOutput())) {
    if (!child.running) throw new Error(`${what} exited:\n${child.recentOutput()}`);
    if (Date.now() > deadline) throw new Error(`${what}: no "${pattern.source}" within ${timeoutMs / 1000} s:\n${child.recentOutput()}`);
    await sleep(200);
  }
}

/** The last tick of every loop, as the journal booked it (one signal row per tick). */
async function lastTicks(db: pg.Client): Promise<Map<string, number>> {
  const rows = await db.query<{ symbol: string; at: Date }>('SELECT symbol, max(at) AS at FROM signals GROUP BY symbol');
  return new Map(rows.rows.map((r) => [r.symbol, r.at.getTime()]));
}

/** Pollers of the fleet's workflow task queue seen since `since` (identity pid@host for a TypeScript worker). */
async function pollers(address: string, since = 0): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    const r = await connection.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: 'quantum-trader' } });
    return (r.pollers ?? []).filter((p) => (p.lastAccessTime ? tsToMs(p.lastAccessTime) : 0) > since).map((p) => p.identity ?? '?').sort();
  } finally {
    await connection.close();
  }
}

/** Which worker (identity) completed each loop's latest workflow task: who runs it now. */
async function loopOwners(address: string, symbols: string[]): Promise<Map<string, string>> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const owners = new Map<string, string>();
    for (const symbol of symbols) {
      const events = (await client.workflow.getHandle(symbolWorkflowId(symbol)).fetchHistory()).events ?? [];
      const last = events.filter((e) => e.workflowTaskCompletedEventAttributes).at(-1);
      owners.set(symbol, last?.workflowTaskCompletedEventAttributes?.identity ?? '?');
    }
    return owners;
  } finally {
    await connection.close();
  }
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** Stops what was started, newest first; also run on Ctrl-C. */
const cleanups: (() => Promise<unknown>)[] = [];
async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((e: unknown) => say(`cleanup: ${String(e)}`));
}

async function main(): Promise<boolean> {
  const version = composeTemporalVersion();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'qt-production-check-'));
  cleanups.push(async () => rmSync(workDir, { recursive: true, force: true }));
  const figures: [string, string][] = [];
  try {
    let t = Date.now();
    const binaries = await temporalServerBinaries(version, say);
    figures.push(['Temporal server', `v${version} (docker-compose.yml), ${binaries.origin === 'built' ? `built in ${binaries.buildSeconds} s` : `from ${binaries.origin}`}: ${binaries.server}`]);

    t = Date.now();
    const postgres: RunningPostgres = await startEmbeddedPostgres({ dataDir: path.join(workDir, 'postgres'), port: 0 });
    cleanups.push(() => postgres.stop());
    const db = { host: '127.0.0.1', port: postgres.port, user: 'postgres', password: 'postgres' };
    setUpTemporalSchema(binaries.sqlTool, db, say);
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('CREATE DATABASE qt'); // docker/postgres-init.sql
    await admin.end();
    figures.push(['Postgres + Temporal schema (temporal-sql-tool)', elapsed(t)]);

    t = Date.now();
    const server: RunningTemporalServer = await startTemporalServer({ binary: binaries.server, db, historyShards: HISTORY_SHARDS, workDir, log: (l) => process.env.QT_CHECK_VERBOSE && console.log(`  temporal| ${l}`) });
    cleanups.push(() => server.stop());
    // infra/setup-temporal.ts, as the compose temporal-setup service runs it: namespace, search attributes, retention.
    await server.serving();
    say(await oneShot('infra/setup-temporal.ts', ['infra/setup-temporal.ts'], { TEMPORAL_ADDRESS: server.address }));
    const info = await describeCluster(server.address);
    figures.push(['Temporal server up, namespace and search attributes registered', `${elapsed(t)}; ${info.shards} history shards, persistence ${info.store}, visibility ${info.visibility}`]);

    // The paper exchange, two workers and the fleet: the compose services' commands.
    const symbols = DEFAULT_SYMBOLS.filter((s) => existsSync(path.join(dataDir, `${s}.csv.gz`)) || existsSync(path.join(dataDir, `${s}.csv`))).slice(0, options.symbols);
    const exchangePort = await freePort();
    const exchange = service('exchange', ['client/main.ts', 'exchange', '--replay', dataDir, '--port', String(exchangePort), '--state', path.join(workDir, 'exchange-state.json'), '--step-seconds', String(options.interval)], {});
    cleanups.push(() => exchange.stop());
    await waitForLine(exchange, /local exchange listening/, 'the exchange');
    const qtEnv = {
      TEMPORAL_ADDRESS: server.address,
      DATABASE_URL: postgresUrl(postgres.port, 'qt'),
      QT_EXCHANGE_URL: `http://127.0.0.1:${exchangePort}`,
      QT_SYMBOLS: symbols.join(','),
      QT_CHECK_INTERVAL: String(options.interval),
      QT_HEALTH_PORT: '0',
      QT_LOG_FORMAT: 'json',
    };
    t = Date.now();
    const workers = [service('worker-1', ['worker/main.ts'], qtEnv), service('worker-2', ['worker/main.ts'], qtEnv)];
    for (const w of workers) cleanups.push(() => w.stop('SIGTERM', 15_000));
    await Promise.all(workers.map((w, i) => waitForLine(w, /worker started/, `worker ${i + 1}`)));
    figures.push(['two worker processes ready', `${elapsed(t)} (pids ${workers.map((w) => w.child.pid).join(', ')})`]);
    say(await oneShot('qt start', ['client/main.ts', 'start'], qtEnv));

    const journal = new pg.Client({ connectionString: postgresUrl(postgres.port, 'qt') });
    await journal.connect();
    cleanups.push(() => journal.end());
    t = Date.now();
    for (;;) {
      const ticks = await lastTicks(journal);
      if (symbols.every((s) => ticks.has(s))) break;
      if (Date.now() - t > 120_000) throw new Error(`only ${ticks.size} of ${symbols.length} loops ticked within 120 s`);
      await sleep(250);
    }
    figures.push([`fleet of ${symbols.length} loops at ${options.interval} s, every loop ticked`, `${elapsed(t)} after qt start`]);
    const before = await pollers(server.address);
    // Let the loops settle over both workers.
    await sleep(options.interval * 3 * 1000);

    const victim = workers[0]!;
    const owners = await loopOwners(server.address, symbols);
    const victimLoops = [...owners.values()].filter((id) => id.startsWith(`${victim.child.pid}@`)).length;
    const killedAt = Date.now();
    process.kill(victim.child.pid!, 'SIGKILL');
    await victim.waitForExit();
    say(`worker 1 (pid ${victim.child.pid}) SIGKILLed`);
    const recovery = new Map<string, number>();
    const deadline = killedAt + Math.max(options.target * 3, 60) * 1000;
    while (recovery.size < symbols.length && Date.now() < deadline) {
      for (const [symbol, at] of await lastTicks(journal)) if (at > killedAt && !recovery.has(symbol)) recovery.set(symbol, (at - killedAt) / 1000);
      await sleep(100);
    }
    // Pollers that polled after the kill: only the surviving worker.
    const after = await pollers(server.address, killedAt + 1_000);
    const missing = symbols.filter((s) => !recovery.has(s));
    const times = [...recovery.values()];
    const worst = times.length ? Math.max(...times) : Infinity;
    figures.push(['workflow-task pollers before / polling after the kill', `${before.length} (${before.join(', ')}) / ${after.length} (${after.join(', ')})`]);
    figures.push(['loops the killed worker was running (last workflow task)', `${victimLoops} of ${symbols.length}`]);
    figures.push(['loops ticking again on the surviving worker', `${recovery.size} of ${symbols.length}${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`]);
    if (times.length) figures.push(['time from the kill to each loop\'s next tick', `p50 ${percentile(times, 50).toFixed(1)} s, p90 ${percentile(times, 90).toFixed(1)} s, max ${worst.toFixed(1)} s (target ${options.target} s; the interval alone accounts for up to ${options.interval} s)`]);
    const survivor = `${workers[1]!.child.pid}@`;
    const ok = victimLoops > 0 && missing.length === 0 && worst <= options.target && after.length === 1 && after[0]!.startsWith(survivor);
    printFigures(figures, ok);
    return ok;
  } finally {
    await cleanUp();
  }
}

async function describeCluster(address: string): Promise<{ shards: number; store: string; visibility: string }> {
  const connection = await Connection.connect({ address });
  try {
    const info = await connection.workflowService.getClusterInfo({});
    return { shards: info.historyShardCount ?? 0, store: info.persistenceStore ?? '?', visibility: info.visibilityStore ?? '?' };
  } finally {
    await connection.close();
  }
}

function printFigures(figures: [string, string][], ok: boolean): void {
  const width = Math.max(...figures.map(([k]) => k.length));
  console.log('');
  for (const [k, v] of figures) console.log(`${k.padEnd(width)}  ${v}`);
  console.log('');
  console.log(ok ? 'production check PASSED' : 'production check FAILED');
}

// Ctrl-C: stop the servers and workers (each in its own process group) rather than leave them behind.
process.once('SIGINT', () => void cleanUp().then(() => process.exit(130)));
main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: unknown) => {
    console.error(`production check failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
