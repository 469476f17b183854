import type pg from 'pg';
import { sleep } from '../infra/sleep.js';

/**
 * Recovery after a restart, measured from the journal: every tick of a symbol loop writes one `signals`
 * row (`at` is the worker's clock when the tick's decision was journaled), so the time until every loop
 * ticked again is the latest of each symbol's first row after the restarted process was back.
 */
export interface Recovery {
  /** Wall time (ms) of each symbol's first tick after `since`. */
  firstTicks: Map<string, number>;
  /** Symbols without a tick within the timeout. */
  silent: string[];
}

export async function waitUntilEveryLoopTicked(pool: pg.Pool, symbols: string[], since: number, timeoutMs: number): Promise<Recovery> {
  const deadline = since + timeoutMs;
  let firsts = new Map<string, number>();
  for (;;) {
    try {
      const { rows } = await pool.query<{ symbol: string; first: Date }>(
        'SELECT symbol, min(at) AS first FROM signals WHERE at > $1 AND symbol = ANY($2) GROUP BY symbol',
        [new Date(since), symbols],
      );
      firsts = new Map(rows.map((r) => [r.symbol, r.first.getTime()]));
    } catch {
      // Postgres is still coming back: ask again.
    }
    if (firsts.size === symbols.length || Date.now() > deadline) return { firstTicks: firsts, silent: symbols.filter((s) => !firsts.has(s)) };
    await sleep(200);
  }
}
