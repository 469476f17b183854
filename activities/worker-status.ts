import type { ReconcileResult } from '../workflows/book-contracts.js';

/**
 * What this worker has seen, for /health: when each symbol loop last ticked here, and the last
 * reconciliation pass. In memory; a fresh worker starts empty.
 */
export class WorkerStatus {
  readonly startedAt = Date.now();
  private readonly ticks = new Map<string, number>();
  lastReconciliation: ReconcileResult | null = null;

  tick(symbol: string, at = Date.now()): void {
    this.ticks.set(symbol, at);
  }

  lastTick(symbol: string): number | null {
    return this.ticks.get(symbol) ?? null;
  }

  /**
   * Symbols whose loop has not ticked within `maxAgeMs` (never ticked counts from the worker's start,
   * so a worker just started is not reported stale before a loop could have ticked).
   */
  staleLoops(symbols: readonly string[], maxAgeMs: number, now = Date.now()): { symbol: string; lastTick: number | null }[] {
    return symbols
      .map((symbol) => ({ symbol, lastTick: this.lastTick(symbol) }))
      .filter(({ lastTick }) => now - (lastTick ?? this.startedAt) > maxAgeMs);
  }
}
