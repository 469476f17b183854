import type { Logger } from 'pino';
import type { AppConfig } from '../core/config.js';
import type { Journal } from '../journal/index.js';
import { loadFixedModels, RegistryModelProvider } from '../ml/model-provider.js';
import { codeVersion, ModelRegistry } from '../ml/registry.js';

/**
 * The worker's model: the registry's ACTIVE one, followed for hot reload. An empty registry is seeded with
 * the strategy's model (or QT_MODEL_DIR) first, so a deployment that never retrained scores exactly as before.
 * The fixed primary / backup serve until the ACTIVE model is loaded, and whenever it cannot be.
 */
export async function followActiveModel(config: AppConfig, shippedModelDir: string, journal: Journal, log: Logger): Promise<RegistryModelProvider> {
  const registry = new ModelRegistry(journal.pool);
  const guard = { liveTrading: config.venue === 'live', allowUnproven: config.allowUnprovenModel };
  try {
    if (await registry.seed(shippedModelDir, codeVersion())) log.info({ dir: shippedModelDir }, 'model registry seeded with the shipped model');
  } catch (e) {
    log.warn({ dir: shippedModelDir, err: (e as Error).message }, 'model registry not seeded');
  }
  const fallback = await loadFixedModels({ primaryDir: shippedModelDir, backupDir: config.backupModelDir }, guard, log);
  const provider = new RegistryModelProvider({ registry, fallback, refreshMs: config.modelRefreshSeconds * 1000, log, ...guard });
  await provider.start();
  const active = await registry.active().catch(() => null);
  if (active && active.version !== provider.describe().model?.name) log.warn({ active: active.version, serving: provider.describe().model?.name ?? null }, 'the registry ACTIVE model is not the one serving');
  return provider;
}
