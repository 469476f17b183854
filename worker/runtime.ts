import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, makeTelemetryFilterString, type Worker } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import type { Server } from 'node:http';
import type { AppConfig } from '../core/config.js';
import { WARMUP_CANDLES } from '../core/features.js';
import type { SignalSource } from '../activities/signal-source.js';
import { RandomSignalSource } from '../activities/random-signal-source.js';
import { wireActivities } from '../activities/wiring.js';
import { DEFAULT_PRICE_BAND_PCT, createExchange, type ApiCredentials } from '../exchange/index.js';
import type { FuturesExchange } from '../exchange/types.js';
import { Journal } from '../journal/index.js';
import { createSignalService } from '../ml/signal-service.js';
import { StrategySignalSource } from '../ml/strategy-signals.js';
import { isModelScorer } from '../core/strategy.js';
import { loadStrategy, strategyParams } from '../strategies/index.js';
import { followActiveModel } from './model-registry.js';
import { retrainActivities } from '../activities/retrain.js';
import { MarketDataService } from '../market/market-data-service.js';
import { startMarketEvents, type MarketEvents } from './market-events.js';
import { ensureBookkeepers } from './bookkeepers.js';
import { createTradingWorker } from './create-worker.js';
import { resetStickyQueues } from './sticky-reset.js';
import { startHealthServer, type Check } from './health.js';
import { loopsCheck, modelCheck, reconciliationCheck } from './health-checks.js';
import { marketDataHealth, registerMarketDataMetrics } from './market-data-health.js';
import { registerPnlMetrics } from './pnl-metrics.js';

export interface WorkerEndpoints {
  temporalAddress: string;
  databaseUrl: string;
  /** Base URL of the exchange (the local exchange in paper mode). */
  exchangeUrl: string | null;
  /** Base of its market streams; null: derived from exchangeUrl on paper, Binance's for testnet / live. */
  exchangeWsUrl?: string | null;
  /** Venue keys; null on the paper venue (the local exchange's development keys). */
  credentials: ApiCredentials | null;
}

export interface RunningWorker {
  worker: Worker;
  exchange: FuturesExchange;
  journal: Journal;
  /** Kline and mark price streams of the fleet's symbols, shared by every loop of this worker. */
  marketData: MarketDataService;
  /** Loop wakes and exit watches on those streams (event-driven mode), else null. */
  marketEvents: MarketEvents | null;
  /** Resolves when the worker stops (after shutdown(), or on a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Candles kept beyond what the model needs, so a late candle never starves a score. */
export const CANDLE_MARGIN = 20;

/**
 * Operator logs: readable lines on a terminal (or QT_LOG_FORMAT=pretty), JSON otherwise
 * (QT_LOG_FORMAT=json) for log shippers. The Temporal SDK's own logs go through the same logger,
 * at warning level and above unless QT_LOG_LEVEL asks for more.
 */
export function createLogger(): Logger {
  const level = process.env.QT_LOG_LEVEL ?? 'info';
  const pretty = process.env.QT_LOG_FORMAT ? process.env.QT_LOG_FORMAT === 'pretty' : process.stdout.isTTY;
  const log = pretty
    ? pino({ level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: false } } })
    : pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
  installTemporalLogger(log.child({ component: 'temporal' }, { level: ['trace', 'debug'].includes(level) ? level : 'warn' }));
  return log;
}

let temporalLoggerInstalled = false;
/** Route the Temporal SDK's logs (and its core's, at warning level unless `log` wants more) through pino. */
export function installTemporalLogger(log: Logger, opts: { prometheusAddress?: string } = {}): void {
  if (temporalLoggerInstalled) return;
  temporalLoggerInstalled = true;
  const sdkLevel = ['trace', 'debug'].includes(log.level) ? log.level : 'warn';
  const at = (lvl: 'trace' | 'debug' | 'info' | 'warn' | 'error') => (message: string, meta?: Record<string, unknown>) => log[lvl](meta ?? {}, message);
  Runtime.install({
    logger: {
      log: (l: string, message: string, meta?: Record<string, unknown>) => at(l.toLowerCase() as 'info')(message, meta),
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
    },
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: sdkLevel.toUpperCase() as 'WARN' }) },
      ...(opts.prometheusAddress ? { metrics: { prometheus: { bindAddress: opts.prometheusAddress } } } : {}),
    },
  });
}

/** Connect everything the worker needs, start it and the /health + /metrics server. */
export async function startWorker(config: AppConfig, at: WorkerEndpoints, opts: { log?: Logger; signals?: SignalSource } = {}): Promise<RunningWorker> {
  const log = opts.log ?? createLogger();
  const stages = startupStages();
  const journal = await Journal.connect(at.databaseUrl);
  await journal.migrate();
  stages.mark('journal');
  // loadConfig only yields the live venue when QT_CONFIRM_LIVE_TRADING was given.
  // The risk check's caps again at the adapter, with the default price band (exchange/order-caps.ts).
  const caps = { maxOrderNotional: config.risk.maxOrderNotional, maxLeverage: config.risk.maxLeverage, priceBandPct: DEFAULT_PRICE_BAND_PCT };
  const exchange = createExchange({ venue: config.venue, baseUrl: at.exchangeUrl ?? undefined, credentials: at.credentials, allowLive: config.venue === 'live', caps });
  // QT_SIGNAL_SOURCE=random:<seed>:<p> (paper only, enforced by loadConfig) replaces the strategy.
  const scripted = opts.signals ?? (config.signalSource.kind === 'random' ? new RandomSignalSource(config.signalSource.seed, config.signalSource.entryProbability) : null);
  const strategy = scripted ? null : await loadStrategy(config.strategy);
  // A replay runs on market time, not the wall clock: staleness is then judged by the candle cache
  // (the last closed candle must directly precede the forming one).
  const replayClock = config.venue === 'paper' && config.marketData === 'replay' ? { staleAfterMs: Number.POSITIVE_INFINITY } : {};
  const service = strategy && isModelScorer(strategy.scorer)
    ? await createSignalService({
      primaryDir: config.modelDir ?? strategy.scorer.model,
      backupDir: config.backupModelDir,
      allowUnproven: config.allowUnprovenModel,
      liveTrading: config.venue === 'live',
      logger: log,
      models: await followActiveModel(config, config.modelDir ?? strategy.scorer.model, journal, log),
      ...replayClock,
    })
    : null;
  const strategySignals = strategy ? new StrategySignalSource(strategy, strategyParams(strategy, process.env), { model: service, ...replayClock }) : null;
  const signals = scripted ?? strategySignals!;
  stages.mark('strategy');
  // Closed candles kept per symbol: what the strategy needs (warm-up + a model's sequence window).
  const candlesNeeded = strategySignals?.candlesNeeded ?? WARMUP_CANDLES;
  const history = candlesNeeded + CANDLE_MARGIN;
  const marketData = new MarketDataService({
    rest: exchange,
    stream: streamEndpoint(config, at),
    history,
    featureWindow: Math.max(1, candlesNeeded - WARMUP_CANDLES + 1),
    staleAfterMs: config.streamStaleSeconds * 1000,
    log: log.child({ component: 'market-data' }),
  });
  await marketData.start(config.symbols);
  stages.mark('marketData');
  // Activities that talk to Temporal (the risk book, visibility for ownership and reconciliation) use a client.
  const clientConnection = await Connection.connect({ address: at.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: config.temporalNamespace });
  const events = config.eventDrivenMode ? startMarketEvents(config, marketData, client, exchange, journal, log) : null;
  const { activities, metrics, status } = wireActivities({
    exchange,
    journal,
    signals,
    candleHistory: history,
    candles: marketData,
    risk: () => config.risk,
    log,
    summaryWindowMs: config.params.checkIntervalSeconds * 1000,
    temporal: { client, taskQueue: config.taskQueue, orphanPolicy: config.orphanPolicy },
    ...(events ? { marketEvents: events.port } : {}),
  });
  registerPnlMetrics(metrics.registry, journal, exchange);
  registerMarketDataMetrics(metrics.registry, marketData);
  let connection: NativeConnection;
  let worker: Worker;
  try {
    connection = await NativeConnection.connect({ address: at.temporalAddress });
    stages.mark('temporal');
    await resetStickyQueues(client, config.temporalNamespace, config.taskQueue, log);
    stages.mark('stickyReset');
    const learning = retrainActivities({ config, pool: journal.pool, exchange, log: log.child({ component: 'retrain' }) });
    worker = await createTradingWorker({ connection, namespace: config.temporalNamespace, taskQueue: config.taskQueue, activities: { ...activities, ...learning } });
    stages.mark('createWorker');
  } catch (e) {
    // Open stream connections would keep the process alive after a failed start.
    events?.close();
    marketData.close();
    throw e;
  }
  let server: Server | null = null;
  if (config.healthPort > 0) {
    const checks: Record<string, Check> = {
      worker: async () => ({ state: worker.getState() }),
      temporal: () => connection.workflowService.getSystemInfo({}),
      postgres: async () => ({ globalKill: (await journal.getGlobalKill()).on }),
      exchange: async () => ({ venue: exchange.venue, symbols: (await exchange.exchangeInfo()).size }),
      marketData: async () => marketDataHealth(marketData),
      model: modelCheck(() => service?.status() ?? null),
      loops: loopsCheck(status, config.symbols, config.params.checkIntervalSeconds),
      reconciliation: reconciliationCheck(status, config.reconcileSeconds),
    };
    server = await startHealthServer(config.healthHost, config.healthPort, checks, metrics.registry);
  }
  // Watches of exit levels are in memory: the positions running now register theirs again.
  if (events) void events.reregisterPositions(config.taskQueue);
  const done = worker.run().finally(async () => {
    server?.close();
    events?.close();
    marketData.close();
    // The model service first: its registry follow-up reads through the journal's pool.
    await service?.close().catch(() => {});
    await connection.close().catch(() => {});
    await clientConnection.close().catch(() => {});
    await journal.close().catch(() => {});
  });
  // The risk book, and the reconciler with a startup pass (it runs once this worker polls).
  await ensureBookkeepers(client, { taskQueue: config.taskQueue, reconcileSeconds: config.reconcileSeconds, orphanPolicy: config.orphanPolicy, params: config.params, warn: (m) => log.warn(m) });
  stages.mark('bookkeepers');
  // What a restart costs before the worker polls (chaos/breakdown.ts reads this line).
  log.info({ stagesMs: stages.done() }, 'worker start-up');
  log.info({ pid: process.pid, taskQueue: config.taskQueue, venue: config.venue, health: server ? `http://${config.healthHost}:${config.healthPort}` : 'off' }, 'worker started');
  return {
    worker,
    exchange,
    journal,
    marketData,
    marketEvents: events,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

/** Milliseconds spent in each start-up stage, and since the process started (module loading included). */
function startupStages(): { mark(stage: string): void; done(): Record<string, number> } {
  const ms: Record<string, number> = { processToStart: Math.round(process.uptime() * 1000) };
  let last = performance.now();
  return {
    mark(stage) {
      const now = performance.now();
      ms[stage] = Math.round(now - last);
      last = now;
    },
    done: () => ({ ...ms, total: Math.round(process.uptime() * 1000) }),
  };
}

/** Where the worker's market streams come from: the paper exchange's own, or Binance's (testnet / live). */
export function streamEndpoint(config: AppConfig, at: WorkerEndpoints): { wsUrl?: string; testnet?: boolean } {
  if (at.exchangeWsUrl) return { wsUrl: at.exchangeWsUrl };
  if (config.venue === 'paper') {
    if (!at.exchangeUrl) throw new Error('paper venue needs the local exchange URL');
    return { wsUrl: at.exchangeUrl.replace(/^http/, 'ws') };
  }
  return config.venue === 'testnet' ? { testnet: true } : {};
}
