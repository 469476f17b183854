import type { FuturesExchange } from '../../exchange/types.js';

/**
 * Bad prints at the client boundary: the next answers of the real client for a symbol carry a mark price
 * the test chose (0, NaN, 1e300, a negative number), as a venue's glitch would. The request itself still goes
 * to the local exchange through the real client; only the number the agent sees is replaced.
 */
export class BadPrints {
  private readonly queued = new Map<string, { entry: unknown[]; reads: unknown[] }>();

  /** The next mark price read for an entry (single-symbol mark read). */
  atEntry(symbol: string, ...marks: unknown[]): void {
    this.slot(symbol).entry.push(...marks);
  }

  /** The next position reads' mark price. */
  onReads(symbol: string, ...marks: unknown[]): void {
    this.slot(symbol).reads.push(...marks);
  }

  pending(symbol: string): number {
    const s = this.queued.get(symbol);
    return s ? s.entry.length + s.reads.length : 0;
  }

  wrap(exchange: FuturesExchange): FuturesExchange {
    const self = this;
    return new Proxy(exchange, {
      get(target, prop, receiver) {
        const real = Reflect.get(target, prop, receiver) as unknown;
        if (typeof real !== 'function') return real;
        if (prop === 'markPrice') {
          return async (symbol: string) => {
            const value = await target.markPrice(symbol);
            const bad = self.queued.get(symbol)?.entry.shift();
            return bad === undefined ? value : (bad as number);
          };
        }
        if (prop === 'positions') {
          return async (symbol?: string) => {
            const rows = await target.positions(symbol);
            return rows.map((r) => {
              const bad = self.queued.get(r.symbol)?.reads.shift();
              return bad === undefined ? r : { ...r, markPrice: bad as number };
            });
          };
        }
        return (real as (...args: unknown[]) => unknown).bind(target);
      },
    });
  }

  private slot(symbol: string) {
    let s = this.queued.get(symbol);
    if (!s) this.queued.set(symbol, (s = { entry: [], reads: [] }));
    return s;
  }
}
