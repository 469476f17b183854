/**
 * Fleet benchmark: N symbol workflows at an interval of S seconds, everything on this machine
 * (Temporal dev server, Postgres, the local exchange replaying real klines, the worker with the
 * real ONNX model). Prints tick lateness p50 / p99, ticks per second, worker CPU and memory, and
 * whole-machine CPU. The warm-up (`--warmup`) begins once every loop has evaluated once; how long the start took
 * until then is printed too (`fleetUpSeconds`).
 *
 * Event-driven mode (the default, as `npm start` runs): the worker follows the exchange's kline and mark
 * streams for the fleet (candles and features from the stream store) and loops are also woken by candle
 * closes and mark moves; the replay then runs `--speed` times real time so candles close within the window,
 * and the delay from each candle close to the loop's evaluation is printed too. `--event-driven false`:
 * timer-driven loops reading candles over REST.
 *
 *   npm run bench:fleet -- --symbols 100 --interval 15 [--duration 120] [--warmup 30] [--data DIR] [--event-driven true|false] [--speed 5] [--wake-window 4]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { DEFAULT_PARAMS } from '../core/params.js';
import { DEFAULT_RISK_LIMITS } from '../core/risk.js';
import { wireActivities } from '../activities/wiring.js';
import { createExchange } from '../exchange/index.js';
import { startLocalExchange } from '../exchange/sim/server.js';
import { startEmbeddedPostgres } from '../infra/postgres.js';
import { startTemporalDevServer, type TemporalDevServerOptions } from '../infra/temporal.js';
import { Journal } from '../journal/index.js';
import { createSignalService } from '../ml/signal-service.js';
import { CANDLE_MARGIN, installTemporalLogger } from '../worker/runtime.js';
import { createTradingWorker } from '../worker/create-worker.js';
import { startMarketEvents } from '../worker/market-events.js';
import { MarketDataService } from '../market/market-data-service.js';
import { mapLimit } from '../core/map-limit.js';
import { WORKFLOW_TASK_TIMEOUT, symbolWorkflowId } from '../workflows/contracts.js';
import type { symbolWorkflow } from '../workflows/symbol.js';
import { percentile } from './stats.js';
import { sleep } from '../infra/sleep.js';
import { freePort } from '../infra/process.js';
import { histogramQuantile, increaseBy, scrape, total, type Sample } from './prometheus.js';

const { values: args } = parseArgs({
  options: {
    symbols: { type: 'string', default: '45' },
    interval: { type: 'string', default: '15' },
    duration: { type: 'string', default: '120' },
    warmup: { type: 'string', default: '30' },
    data: { type: 'string', default: '../shared/data/binance-futures-5m' },
    model: { type: 'string', default: 'models/xgb-v1' },
    /** file (SQLite, as `npm start` runs it) or memory. */
    'temporal-db': { type: 'string', default: 'file' },
    /** SQLite pragmas of the dev server's file instead of infra/temporal.ts's, e.g. journal_mode=delete,synchronous=full. */
    'temporal-pragmas': { type: 'string', default: '' },
    /** Dynamic config values for the dev server (experiments), `key=json` separated by spaces. */
    'temporal-config': { type: 'string', default: '' },
    'event-driven': { type: 'string', default: 'true' },
    speed: { type: 'string', default: '5' },
    'move-pct': { type: 'string', default: '0.5' },
    /** Wakes awaiting their loop's evaluation at once (market/loop-waker.ts), for experiments. */
    'wake-window': { type: 'string' },
  },
});
const N = Number(args.symbols);
const intervalS = Number(args.interval);
const durationS = Number(args.duration);
const warmupS = Number(args.warmup);
const eventDriven = args['event-driven'] !== 'false';
const speed = eventDriven ? Number(args.speed) : 1;

// The worker core's and the dev server's Prometheus metrics, read before and after the measured window.
const workerMetricsPort = await freePort();
const serverMetricsPort = await freePort();
installTemporalLogger(pino({ level: 'error' }), { prometheusAddress: `127.0.0.1:${workerMetricsPort}` });

/**
 * The dev server's settings: state in memory or in a SQLite file, with infra/temporal.ts's pragmas or the given
 * ones (`a=b,c=d`), and any extra dynamic config (`key=json key=json`).
 */
function temporalOptions(dir: string): TemporalDevServerOptions {
  const list = args['temporal-pragmas']!;
  const config = args['temporal-config']!.split(' ').filter(Boolean);
  return {
    ...(args['temporal-db'] === 'memory' ? {} : { dbFile: path.join(dir, 'temporal.sqlite') }),
    ...(list ? { sqlitePragmas: Object.fromEntries(list.split(',').map((kv) => kv.split('=') as [string, string])) } : {}),
    ...(config.length > 0 ? { dynamicConfig: config } : {}),
  };
}

/** N symbols from the data files (cycled when N > files), each cut to its last ~3 days. */
function fleetData(dir: string, out: string, n: number): string[] {
  const files = ['.csv.gz', '.csv'].flatMap((ext) => readdirSafe(dir).filter((f) => f.endsWith(ext)));
  if (files.length === 0) throw new Error(`no klines files in ${dir}`);
  mkdirSync(out, { recursive: true });
  const symbols: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = files[i % files.length]!;
    const base = file.replace(/\.csv(\.gz)?$/, '');
    const symbol = i < files.length ? base : `${base.replace(/USD[TC]$/, '')}X${Math.floor(i / files.length)}USDT`;
    const raw = readFileSync(path.join(dir, file));
    const lines = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').trimEnd().split('\n');
    const tail = [lines[0]!, ...lines.slice(-900)].join('\n');
    writeFileSync(path.join(out, `${symbol}.csv.gz`), gzipSync(tail));
    symbols.push(symbol);
  }
  return symbols;
}

function readdirSafe(dir: string): string[] {
  return readdirSync(dir);
}

/** Busy fraction of all cores since the previous call, from /proc/stat. */
function machineCpu(): () => number {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + f[4]!;
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  let prev = read();
  return () => {
    const now = read();
    const busy = 1 - (now.idle - prev.idle) / (now.total - prev.total);
    prev = now;
    return busy;
  };
}

/** CPU seconds a process has used (utime + stime from /proc/<pid>/stat, at Linux's 100 ticks a second). */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds and command name of every process on the machine, by pid. */
function processCpu(): Map<number, { comm: string; seconds: number }> {
  const out = new Map<number, { comm: string; seconds: number }>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      out.set(Number(pid), { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), seconds: processCpuSeconds(Number(pid)) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * Share of one core each command used between two snapshots, largest first (those at 1 % or more): per process
 * alive at the end (a process that started meanwhile counts whole; postgres has one process per connection).
 */
function cpuShares(before: ReturnType<typeof processCpu>, after: ReturnType<typeof processCpu>, seconds: number): Record<string, number> {
  const byCommand = new Map<string, number>();
  for (const [pid, p] of after) byCommand.set(p.comm, (byCommand.get(p.comm) ?? 0) + p.seconds - (before.get(pid)?.seconds ?? 0));
  return Object.fromEntries(
    [...byCommand]
      .map(([comm, s]) => [comm, Math.round((s / seconds) * 100)] as const)
      .filter(([, pct]) => pct >= 1)
      .sort((a, b) => b[1] - a[1]),
  );
}

/** How long the fleet's start may take before the warm-up begins anyway. */
const FLEET_UP_LIMIT_S = 300;

/**
 * Seconds from the start until every loop has journaled its first evaluation (a loop's first pass also claims
 * ownership of its symbol), or null past FLEET_UP_LIMIT_S. The warm-up starts after it, so the measured window is
 * the fleet running, not the fleet starting; the start gets its own figure.
 */
async function everyLoopEvaluated(journal: Journal, n: number, startedAt: number): Promise<number | null> {
  while (Date.now() - startedAt < FLEET_UP_LIMIT_S * 1000) {
    const { rows } = await journal.pool.query<{ n: string }>('SELECT count(DISTINCT symbol) AS n FROM signals WHERE at >= $1', [new Date(startedAt)]);
    if (Number(rows[0]!.n) >= n) return Math.round((Date.now() - startedAt) / 100) / 10;
    await sleep(250);
  }
  return null;
}

/**
 * What the window cost Temporal: workflow tasks completed, the dev server's persistence requests per task and by
 * operation, and the worker's sticky cache misses (each one a replay of a whole run), failed tasks and
 * schedule-to-start latency.
 */
function temporalFigures(server0: Sample[], server1: Sample[], core0: Sample[], core1: Sample[], seconds: number) {
  const diff = (a: Sample[], b: Sample[], name: string, where: Record<string, string> = {}) => total(b, name, where) - total(a, name, where);
  const tasks = diff(core0, core1, 'temporal_workflow_task_execution_latency_count');
  const persistence = diff(server0, server1, 'persistence_requests');
  return {
    workflowTasksPerSecond: +(tasks / seconds).toFixed(1),
    persistenceRequestsPerTask: +(persistence / Math.max(1, tasks)).toFixed(2),
    persistenceByOperation: Object.fromEntries(increaseBy(server0, server1, 'persistence_requests', 'operation').slice(0, 8)),
    stickyCacheMisses: diff(core0, core1, 'temporal_sticky_cache_miss'),
    workflowTasksFailed: diff(core0, core1, 'temporal_workflow_task_execution_failed'),
    workflowTaskScheduleToStartP99Ms: histogramQuantile(core0, core1, 'temporal_workflow_task_schedule_to_start_latency', 0.99),
    workflowTaskReplayP99Ms: histogramQuantile(core0, core1, 'temporal_workflow_task_replay_latency', 0.99),
  };
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'qt-fleet-'));
const log = pino({ level: 'warn' });
const stops: (() => Promise<void>)[] = [];
try {
  const symbols = fleetData(args.data!, path.join(tmp, 'data'), N);
  const [temporal, pg] = await Promise.all([
    startTemporalDevServer({ port: 0, uiPort: false, metricsPort: serverMetricsPort, ...temporalOptions(tmp) }),
    startEmbeddedPostgres({ dataDir: path.join(tmp, 'pg'), port: 0, ephemeral: true }),
  ]);
  stops.push(() => temporal.stop(), () => pg.stop());
  // The worker's capacity is measured, not Binance's request budget: no weight limit.
  const local = await startLocalExchange({ port: 0, feed: { kind: 'replay', dir: path.join(tmp, 'data'), speed }, intrabarStepMs: eventDriven ? 1000 * speed : intervalS * 1000, rateLimits: false });
  stops.push(() => local.close());
  const exchange = createExchange({ venue: 'paper', baseUrl: local.baseUrl });
  const journal = await Journal.connect(pg.url, { max: 20 });
  await journal.migrate();
  stops.push(() => journal.close());
  const signals = await createSignalService({ primaryDir: args.model!, staleAfterMs: Number.POSITIVE_INFINITY, logger: log });
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  // Closed after the worker and the waker (stops run in reverse): their retries use it until then.
  stops.push(() => client.connection.close());
  const history = signals.status().candlesNeeded + CANDLE_MARGIN;
  const md = eventDriven
    ? new MarketDataService({ rest: exchange, stream: { wsUrl: local.wsUrl }, history, featureWindow: 1, staleAfterMs: 10_000, log })
    : null;
  if (md) {
    const seeded = Date.now();
    await md.start(symbols);
    stops.push(async () => md.close());
    console.error(`market streams of ${N} symbols seeded and subscribed in ${Date.now() - seeded} ms`);
  }
  const events = md ? startMarketEvents({ eventMovePct: Number(args['move-pct']) }, md, client, exchange, journal, log, args['wake-window'] ? { wakeWindow: Number(args['wake-window']) } : {}) : null;
  if (events) stops.push(async () => events.close());
  // Candle close -> the loop's evaluation, per symbol (the first evaluation after each close).
  const closedAt = new Map<string, number>();
  const closeToEvaluation: number[] = [];
  md?.on('candleClosed', (e) => closedAt.set(e.symbol, e.receivedAt));
  const marketEvents = events && {
    ...events.port,
    loopEvaluated(symbol: string) {
      const at = closedAt.get(symbol);
      if (at !== undefined) {
        closeToEvaluation.push(Date.now() - at);
        closedAt.delete(symbol);
      }
      events.port.loopEvaluated(symbol);
    },
  };
  const { activities, metrics } = wireActivities({
    exchange,
    journal,
    signals,
    candleHistory: history,
    ...(md && marketEvents ? { candles: md, marketEvents } : {}),
    risk: () => DEFAULT_RISK_LIMITS,
    log,
    summaryWindowMs: intervalS * 1000,
    temporal: { client, taskQueue: 'bench' },
  });
  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await createTradingWorker({ connection, namespace: 'default', taskQueue: 'bench', activities });
  const running = worker.run();
  stops.push(async () => {
    worker.shutdown();
    await running;
  });
  const params = { ...DEFAULT_PARAMS, checkIntervalSeconds: intervalS };
  const t0 = Date.now();
  await mapLimit(symbols, 16, (symbol) =>
    client.workflow.start<typeof symbolWorkflow>('symbolWorkflow', {
      workflowId: symbolWorkflowId(symbol),
      taskQueue: 'bench',
      args: [{ symbol, params, flags: { aiTradingEnabled: true, executionEnabled: true } }],
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
    }),
  );
  console.error(`started ${N} symbol workflows in ${Date.now() - t0} ms`);
  const fleetUpSeconds = await everyLoopEvaluated(journal, N, t0);
  console.error(`${fleetUpSeconds === null ? `not every loop had evaluated ${FLEET_UP_LIMIT_S} s after the start` : `every loop had evaluated ${fleetUpSeconds} s after the start`}; warming up ${warmupS} s, measuring ${durationS} s`);
  await sleep(warmupS * 1000);
  metrics.latenessSamples.length = 0;
  closeToEvaluation.length = 0;
  const wakes0 = events ? { ...events.waker.stats } : null;
  const metricsAt = () => Promise.all([scrape(`http://127.0.0.1:${serverMetricsPort}/metrics`), scrape(`http://127.0.0.1:${workerMetricsPort}/metrics`)]);
  const [server0, core0] = await metricsAt();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const temporalCpu0 = processCpuSeconds(temporal.pid);
  const processes0 = processCpu();
  const machine = machineCpu();
  const started = performance.now();
  let peakRss = 0;
  const machineBusy: number[] = [];
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    machineBusy.push(machine());
  }, 1000);
  await sleep(durationS * 1000);
  clearInterval(sampler);
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const temporalCpu = processCpuSeconds(temporal.pid) - temporalCpu0;
  const commandCpu = cpuShares(processes0, processCpu(), elapsed);
  const [server1, core1] = await metricsAt();
  if (process.env.QT_BENCH_METRICS_DIR) {
    writeFileSync(path.join(process.env.QT_BENCH_METRICS_DIR, 'metrics.json'), JSON.stringify({ server0, server1, core0, core1 }));
  }
  // What the fleet decided in the window, by outcome (a risk refusal with its rule: the reason up to its first colon).
  const decided = await journal.pool.query<{ outcome: string; n: string }>(
    `SELECT decision || CASE WHEN decision LIKE 'RISK_%' THEN ' ' || left(split_part(coalesce(reason, ''), ':', 1), 40) ELSE '' END AS outcome, count(*) AS n
       FROM signals WHERE at >= $1 GROUP BY 1 ORDER BY 2 DESC LIMIT 8`,
    [new Date(Date.now() - elapsed * 1000)],
  );
  const late = [...metrics.latenessSamples].sort((a, b) => a - b);
  const closes = [...closeToEvaluation].sort((a, b) => a - b);
  const result = {
    symbols: N,
    fleetUpSeconds,
    eventDriven,
    replaySpeed: speed,
    intervalSeconds: intervalS,
    measuredSeconds: Math.round(elapsed),
    ticks: late.length,
    ticksPerSecond: +(late.length / elapsed).toFixed(2),
    expectedTicksPerSecond: +(N / intervalS).toFixed(2),
    latenessP50Ms: Math.round(percentile(late, 0.5) * 1000),
    latenessP99Ms: Math.round(percentile(late, 0.99) * 1000),
    latenessMaxMs: Math.round((late[late.length - 1] ?? 0) * 1000),
    workerCpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100),
    workerPeakRssMiB: Math.round(peakRss / 2 ** 20),
    // The Temporal dev server (one process: frontend, history, matching, SQLite) over the same window.
    temporalCpuPercentOfOneCore: Math.round((temporalCpu / elapsed) * 100),
    // How long the worker's own event loop (activities, exchange, inference) made callbacks wait.
    eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
    // Every process on the machine by command name, % of one core (postgres: the journal's connections).
    cpuPercentByCommand: commandCpu,
    machineCpuBusyPercent: Math.round((machineBusy.reduce((a, b) => a + b, 0) / Math.max(1, machineBusy.length)) * 100),
    cores: os.cpus().length,
    loadAverage1m: +os.loadavg()[0]!.toFixed(2),
    decisions: Object.fromEntries(decided.rows.map((r) => [r.outcome, Number(r.n)])),
    temporal: temporalFigures(server0, server1, core0, core1, elapsed),
    ...(events && wakes0
      ? {
        candleCloseToEvaluation: { events: closes.length, p50Ms: Math.round(percentile(closes, 0.5)), p99Ms: Math.round(percentile(closes, 0.99)), maxMs: Math.round(closes[closes.length - 1] ?? 0) },
        wakesSent: events.waker.stats.sent - wakes0.sent,
        wakesCoalesced: events.waker.stats.coalesced - wakes0.coalesced,
        wakesFailed: events.waker.stats.failed - wakes0.failed,
        // Queued wakes a timer tick answered before their turn (none before the wake window existed).
        wakesAnswered: events.waker.stats.answered - wakes0.answered,
      }
      : {}),
  };
  console.log(JSON.stringify(result));
} finally {
  for (const stop of stops.reverse()) await stop().catch((e) => console.error(String(e)));
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
