import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError, type AppConfig } from '../../core/config.js';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import { loadApiKeys } from '../../exchange/index.js';
import { resolveDatabase, type RunningPostgres } from '../../infra/postgres.js';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal.js';
import { createLogger, startWorker, type RunningWorker } from '../../worker/runtime.js';
import { connectClient, ensureFleet } from '../fleet.js';
import { ensureRetrainSchedule } from '../models.js';
import { STATE_DIR, clearRuntimeInfo, writeRuntimeInfo } from '../runtime-file.js';

/**
 * `qt up` (npm start): everything on one machine. Starts what is not given by the environment
 * (TEMPORAL_ADDRESS, DATABASE_URL, QT_EXCHANGE_URL): the Temporal dev server on a SQLite file, an
 * embedded Postgres and the local exchange, all keeping their state under .qt/; then the worker and
 * one workflow per symbol. Ctrl-C stops it all; the next start resumes every workflow where it was.
 *
 * A terminal's Ctrl-C sends SIGINT to the whole foreground process group (npm, tsx and this
 * process, often twice over as npm and tsx relay it). The servers run in process groups of their
 * own, so they keep serving while the worker drains its in-flight tasks; then they stop in order:
 * exchange, Temporal, Postgres.
 */
async function up(config: AppConfig): Promise<void> {
  const log = createLogger();
  let worker: RunningWorker | null = null;
  let exchange: LocalExchange | null = null;
  let temporal: TemporalDevServer | null = null;
  let db: RunningPostgres | null = null;
  const shutdown = async () => {
    log.info('shutting down: draining the worker');
    await worker?.shutdown().catch((e) => log.warn(`worker: ${String(e)}`));
    log.info('worker drained; stopping the exchange, Temporal and Postgres');
    for (const [name, stop] of [['exchange', () => exchange?.close()], ['temporal', () => temporal?.stop()], ['postgres', () => db?.stop()]] as const) {
      await Promise.resolve(stop()).catch((e) => log.warn(`${name}: ${String(e)}`));
    }
    clearRuntimeInfo();
    log.info('stopped');
  };
  let stopping: Promise<void> | null = null;
  const stopOnce = () => (stopping ??= shutdown());
  // `on`, not `once`: a repeated SIGINT must not fall through to Node's default (exit at once,
  // leaving Postgres behind).
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void stopOnce().then(() => process.exit(0)));

  try {
    if (!config.temporalAddress) {
      temporal = await startTemporalDevServer({
        dbFile: path.join(STATE_DIR, 'temporal.sqlite'),
        port: config.temporalDevPort,
        uiPort: config.temporalUiPort,
        namespace: config.temporalNamespace,
        retentionDays: 30,
        log: (l) => log.debug(l),
      });
      log.info({ address: temporal.address, webUi: temporal.uiUrl }, `Temporal dev server ready; Web UI ${temporal.uiUrl}`);
    }
    db = await resolveDatabase({ databaseUrl: config.databaseUrl ?? undefined, dataDir: path.resolve(STATE_DIR, 'postgres') });

    let exchangeUrl = config.exchangeUrl;
    if (config.venue === 'paper' && !exchangeUrl) {
      exchange = await startPaperExchange(config, STATE_DIR);
      exchangeUrl = exchange.baseUrl;
      const source = config.marketData === 'live' ? `live prices from ${config.upstreamUrl}` : `replay of ${config.replayDir} at ${config.replaySpeed}x`;
      log.info({ baseUrl: exchange.baseUrl }, `paper exchange ready (${source})`);
    }

    const temporalAddress = config.temporalAddress ?? temporal!.address;
    worker = await startWorker(config, { temporalAddress, databaseUrl: db.url, exchangeUrl, exchangeWsUrl: config.exchangeWsUrl, credentials: loadApiKeys(process.env) }, { log });
    writeRuntimeInfo({ temporalAddress, databaseUrl: db.url, exchangeUrl, webUi: temporal?.uiUrl ?? null, pid: process.pid });

    const client = await connectClient(temporalAddress, config.temporalNamespace);
    const fleet = await ensureFleet(client, config);
    const schedule = await ensureRetrainSchedule(client, config);
    await client.connection.close();
    const health = config.healthPort > 0 ? `; health on http://localhost:${config.healthPort}/health` : '';
    log.info(`fleet: ${fleet.started.length} symbol workflow(s) started, ${fleet.running.length} resumed${health}`);
    log.info(`retrain schedule ${schedule}: ${config.retrain.schedule} (UTC)`);
    await worker.done;
    // The worker stopped by itself (a fatal error): the servers go too.
    await stopOnce();
  } catch (err) {
    await stopOnce();
    throw err;
  }
}

/**
 * The local paper exchange `npm start` runs: replaying the data files (QT_MARKET_DATA=replay), or taking
 * today's prices, marks and klines from an upstream Binance's public API (QT_MARKET_DATA=live, upstream
 * QT_UPSTREAM_URL / QT_UPSTREAM_WS_URL) for the configured symbols. The two keep separate accounts
 * (state files): a replay's positions belong to historical prices.
 */
export async function startPaperExchange(config: AppConfig, stateDir: string, port = 0): Promise<LocalExchange> {
  const common = { port, intrabarStepMs: config.params.checkIntervalSeconds * 1000 };
  if (config.marketData === 'live') {
    try {
      return await startLocalExchange({
        ...common,
        stateFile: path.join(stateDir, 'exchange-live-state.json'),
        feed: { kind: 'live', restUrl: config.upstreamUrl, wsUrl: config.upstreamWsUrl, symbols: config.symbols, staleAfterMs: config.streamStaleSeconds * 1000 },
      });
    } catch (e) {
      throw new ConfigError('QT_UPSTREAM_URL', `paper trading on live prices could not start: ${(e as Error).message}`);
    }
  }
  return startLocalExchange({
    ...common,
    stateFile: path.join(stateDir, 'exchange-state.json'),
    // Every symbol in the data, not only the configured ones: a symbol dropped from QT_SYMBOLS may
    // still hold a position that needs prices.
    feed: { kind: 'replay', dir: config.replayDir ?? config.dataDir, speed: config.replaySpeed, start: config.replayStart ?? undefined },
  });
}

export function registerStackCommands(program: Command, config: () => AppConfig): void {
  program
    .command('up')
    .description('start the whole stack on this machine (what `npm start` runs)')
    .action(() => up(config()));

  program
    .command('worker')
    .description('run only the worker, against TEMPORAL_ADDRESS, DATABASE_URL and the exchange (same as `npm run worker`)')
    .action(async () => {
      await import('../../worker/main.js');
    });
}
