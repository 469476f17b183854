/**
 * The worker process on its own (docker-compose, or beside servers you run yourself): needs
 * TEMPORAL_ADDRESS and DATABASE_URL; in paper mode QT_EXCHANGE_URL points at the local exchange.
 * `npm start` runs the same worker inside the embedded stack instead.
 */
import { ConfigError, loadConfig } from '../core/config.js';
import { loadApiKeys } from '../exchange/index.js';
import { startWorker } from './runtime.js';

try {
  const config = loadConfig(process.env);
  if (!config.temporalAddress || !config.databaseUrl) throw new ConfigError('TEMPORAL_ADDRESS', 'the worker needs TEMPORAL_ADDRESS and DATABASE_URL (use `npm start` for the embedded stack)');
  const worker = await startWorker(config, { temporalAddress: config.temporalAddress, databaseUrl: config.databaseUrl, exchangeUrl: config.exchangeUrl, exchangeWsUrl: config.exchangeWsUrl, credentials: loadApiKeys(process.env) });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void worker.shutdown());
  await worker.done;
} catch (err) {
  console.error(err instanceof ConfigError ? `configuration error: ${err.message}` : `worker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
