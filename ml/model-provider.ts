import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { FEATURE_NAMES } from '../core/features.js';
import { type LoadedModel, loadModel } from './model.js';
import type { ModelRegistry } from './registry.js';

/** Largest difference from the probabilities Python recorded that a model may show before it is used. */
export const PARITY_TOLERANCE = 1e-5;

/** A model lent to one score: released when the score is done, so a swapped-out session closes only then. */
export interface ModelLease {
  model: LoadedModel;
  release(): void;
}

export type ModelSource = 'registry' | 'primary' | 'backup' | 'none';

/**
 * Where the signal path gets its ONNX session. The signal service asks for a lease at every score; a
 * provider may swap the model between two scores (hot reload) without the service knowing.
 */
export interface ModelProvider {
  acquire(): ModelLease | null;
  /** What is loaded now, for /health and the service's status. */
  describe(): { model: LoadedModel | null; source: ModelSource; loadErrors: string[] };
  close(): Promise<void>;
}

/** Reference counts per loaded model: a retired model is closed once its last lease is released. */
class Leases {
  private readonly counts = new Map<LoadedModel, number>();
  private readonly retiring = new Set<LoadedModel>();

  lend(model: LoadedModel): ModelLease {
    this.counts.set(model, (this.counts.get(model) ?? 0) + 1);
    let released = false;
    return {
      model,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.counts.get(model) ?? 1) - 1;
        this.counts.set(model, left);
        if (left === 0 && this.retiring.has(model)) this.closeNow(model);
      },
    };
  }

  retire(model: LoadedModel): void {
    if ((this.counts.get(model) ?? 0) === 0) this.closeNow(model);
    else this.retiring.add(model);
  }

  private closeNow(model: LoadedModel): void {
    this.retiring.delete(model);
    this.counts.delete(model);
    void model.close().catch(() => undefined);
  }
}

export interface LoadGuard {
  liveTrading?: boolean;
  allowUnproven?: boolean;
}

/**
 * The fixed models of QT_MODEL_DIR (falling back to QT_BACKUP_MODEL_DIR): what the worker scores with
 * when there is no registry to follow, and the fallback when the registry's model cannot be loaded.
 */
export async function loadFixedModels(dirs: { primaryDir: string; backupDir?: string | null }, guard: LoadGuard, log: Logger): Promise<{ model: LoadedModel | null; source: ModelSource; errors: string[] }> {
  const errors: string[] = [];
  for (const [dir, source] of [[dirs.primaryDir, 'primary'], [dirs.backupDir, 'backup']] as const) {
    if (!dir) continue;
    try {
      return { model: await loadModel(dir, guard), source, errors };
    } catch (e) {
      errors.push((e as Error).message);
      log.warn({ dir, err: (e as Error).message }, `${source} model failed to load`);
    }
  }
  return { model: null, source: 'none', errors };
}

/** A provider that never changes its model. */
export function fixedModelProvider(loaded: { model: LoadedModel | null; source: ModelSource; errors: string[] }): ModelProvider {
  const leases = new Leases();
  let model = loaded.model;
  return {
    acquire: () => (model ? leases.lend(model) : null),
    describe: () => ({ model, source: model ? loaded.source : 'none', loadErrors: [...loaded.errors] }),
    async close() {
      if (model) leases.retire(model);
      model = null;
    },
  };
}

/**
 * Scores `parity-sample.json` (rows with the probabilities Python computed at export) and refuses a model
 * that disagrees: the check a model passes before it serves, in the worker that will run it. Models
 * without a sample (sequence models) pass with a note.
 */
export async function checkParity(model: LoadedModel): Promise<{ checked: number; maxDiff: number } | { checked: 0; note: string }> {
  const file = join(model.dir, 'parity-sample.json');
  if (!existsSync(file)) return { checked: 0, note: 'no parity-sample.json' };
  const sample = JSON.parse(readFileSync(file, 'utf8')) as { features: number[][]; probabilities: number[][] };
  if (model.window !== 1 || sample.features.some((r) => r.length !== FEATURE_NAMES.length)) return { checked: 0, note: 'sample is not one feature row per score' };
  const probs = await model.run(Float32Array.from(sample.features.flat()), sample.features.length);
  let maxDiff = 0;
  sample.probabilities.forEach((row, i) => row.forEach((p, k) => (maxDiff = Math.max(maxDiff, Math.abs(probs[i * 3 + k]! - p)))));
  if (!(maxDiff <= PARITY_TOLERANCE)) throw new Error(`ONNX parity check failed: max difference ${maxDiff.toExponential(2)} > ${PARITY_TOLERANCE}`);
  return { checked: sample.features.length, maxDiff };
}

export interface RegistryProviderOptions extends LoadGuard {
  registry: ModelRegistry;
  /** Serves until the registry's model is loaded, and whenever it cannot be. */
  fallback: { model: LoadedModel | null; source: ModelSource; errors: string[] };
  refreshMs: number;
  log: Logger;
}

/**
 * Hot reload: follows the registry's ACTIVE model. Every `refreshMs` it reads the ACTIVE version; a new one
 * is loaded beside the current session and parity-checked, then swapped in with one assignment. Scores
 * already holding the old session finish on it; it closes with its last lease. A model that fails to load
 * or to check is not used (the current one keeps serving, with an alert in the log and /health) and is
 * tried again only when the ACTIVE version changes.
 */
export class RegistryModelProvider implements ModelProvider {
  private readonly leases = new Leases();
  private model: LoadedModel | null;
  private source: ModelSource;
  private errors: string[];
  private loadedVersion: string | null = null;
  private refusedVersion: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private registryDown = false;

  constructor(private readonly o: RegistryProviderOptions) {
    this.model = o.fallback.model;
    this.source = o.fallback.source;
    this.errors = [...o.fallback.errors];
  }

  /** Loads the ACTIVE model now, then follows the registry. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.o.refreshMs);
    this.timer.unref();
  }

  acquire(): ModelLease | null {
    return this.model ? this.leases.lend(this.model) : null;
  }

  describe() {
    return { model: this.model, source: this.model ? this.source : ('none' as const), loadErrors: [...this.errors] };
  }

  /** One look at the registry (concurrent calls share it). */
  refresh(): Promise<void> {
    this.refreshing ??= this.follow().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async follow(): Promise<void> {
    let active;
    try {
      active = await this.o.registry.active();
      this.registryDown = false;
    } catch (e) {
      // Once per outage (Postgres away): the loaded model keeps serving meanwhile.
      if (!this.registryDown) this.o.log.warn({ err: (e as Error).message }, 'model registry not readable; keeping the loaded model');
      this.registryDown = true;
      return;
    }
    if (!active || active.version === this.loadedVersion || active.version === this.refusedVersion) return;
    if (this.model && this.model.name === active.version && resolve(this.model.dir) === resolve(active.dir)) {
      this.loadedVersion = active.version; // the fallback already is the ACTIVE model (the seeded shipped one)
      this.source = 'registry';
      return;
    }
    let next: LoadedModel | null = null;
    try {
      next = await loadModel(active.dir, this.o);
      if (next.name !== active.version) throw new Error(`card name ${next.name} is not the registry version ${active.version}`);
      const parity = await checkParity(next);
      const previous = this.model;
      this.model = next;
      this.source = 'registry';
      this.loadedVersion = active.version;
      this.refusedVersion = null;
      this.errors = [];
      if (previous && previous !== next) this.leases.retire(previous);
      this.o.log.info({ model: active.version, parity }, previous ? `model swapped: ${previous.name} -> ${active.version}` : `model loaded: ${active.version}`);
    } catch (e) {
      await next?.close().catch(() => undefined);
      this.refusedVersion = active.version;
      const msg = `registry model ${active.version}: ${(e as Error).message}`;
      this.errors = [msg];
      this.o.log.error({ err: msg, serving: this.model?.name ?? null }, 'ALERT: the ACTIVE model cannot be used; the loaded model keeps serving');
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.refreshing;
    if (this.model) this.leases.retire(this.model);
    this.model = null;
  }
}
