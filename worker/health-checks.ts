import type { WorkerStatus } from '../activities/worker-status.js';
import type { SignalServiceStatus } from '../ml/signal-service.js';

/** /health checks built from what the worker knows; each throws (-> "down", HTTP 503) when unhealthy. */

/**
 * The loaded model's name and where it came from; down when no model could be loaded (every signal is
 * HOLD). `null`: the worker runs scripted signals instead of a model (QT_SIGNAL_SOURCE).
 */
export function modelCheck(status: () => SignalServiceStatus | null): () => Promise<unknown> {
  return async () => {
    const s = status();
    if (!s) return { name: 'scripted signals' };
    if (s.source === 'none' || !s.model) throw new Error(`no model loaded${s.loadErrors.length ? `: ${s.loadErrors.join('; ')}` : ''}`);
    // Up while a model serves; a registry model that could not be used is reported beside it.
    return { name: s.model, source: s.source, dir: s.dir, promotable: s.promotable, ...(s.loadErrors.length ? { alerts: s.loadErrors } : {}) };
  };
}

/** Every configured loop must have ticked within three check intervals. */
export function loopsCheck(worker: WorkerStatus, symbols: readonly string[], intervalSeconds: number, now: () => number = Date.now): () => Promise<unknown> {
  return async () => {
    const stale = worker.staleLoops(symbols, 3 * intervalSeconds * 1000, now());
    if (stale.length > 0) {
      const names = stale.slice(0, 10).map((s) => s.symbol).join(', ');
      throw new Error(`${stale.length} of ${symbols.length} loop(s) have not ticked for 3 intervals (${3 * intervalSeconds} s): ${names}${stale.length > 10 ? ', ...' : ''}`);
    }
    return { loops: symbols.length };
  };
}

/** The last reconciliation pass; down when none finished within three periods. */
export function reconciliationCheck(worker: WorkerStatus, periodSeconds: number, now: () => number = Date.now): () => Promise<unknown> {
  return async () => {
    const last = worker.lastReconciliation;
    const age = now() - (last?.finishedAt ?? worker.startedAt);
    if (age > 3 * periodSeconds * 1000) throw new Error(last ? `last reconciliation pass ${Math.round(age / 1000)} s ago` : 'no reconciliation pass yet');
    if (!last) return { lastPass: null };
    return {
      lastPass: last.pass,
      at: new Date(last.finishedAt).toISOString(),
      actions: last.actions.map((a) => `${a.outcome}: ${a.description}`),
      suspects: last.suspects.map((s) => s.description),
      ...(last.error ? { observationError: last.error } : {}),
    };
  };
}
