import type { Reading } from '../core/position-lifecycle.js';
import type { FuturesExchange, PositionInfo } from '../exchange/types.js';

interface Snapshot<T> {
  at: number;
  data: T;
}

/**
 * Shares one snapshot among concurrent callers (single flight) and keeps it for `maxAgeMs`. A caller that
 * needs a read newer than one it already has passes `after`: it then gets a snapshot taken later, never
 * the cached one (a confirmation must be a second read).
 */
class SharedRead<T> {
  private last: Snapshot<T> | null = null;
  private inFlight: { at: number; promise: Promise<Snapshot<T>> } | null = null;

  constructor(
    private readonly fetch: () => Promise<T>,
    private readonly maxAgeMs: number,
  ) {}

  async get(after: number | null): Promise<Snapshot<T>> {
    const newEnough = (at: number) => after === null || at > after;
    for (;;) {
      const last = this.last;
      if (last && Date.now() - last.at <= this.maxAgeMs && newEnough(last.at)) return last;
      const flight = this.inFlight;
      if (flight) {
        if (newEnough(flight.at)) return flight.promise;
        await flight.promise.catch(() => undefined);
        continue;
      }
      const at = Date.now();
      const promise = this.fetch().then((data) => (this.last = { at, data }));
      const entry = { at, promise };
      this.inFlight = entry;
      void promise.catch(() => undefined).finally(() => {
        if (this.inFlight === entry) this.inFlight = null;
      });
      return promise;
    }
  }
}

/**
 * Position and mark reads batched per worker: one account position read (weight 5) and, when a symbol has no
 * position row, one all-symbols mark read (weight 10) per interval, shared by every position workflow on
 * the worker. 45 open positions each checking every 5 s then cost what one does, instead of 45 reads.
 */
export class AccountReader {
  private readonly positions: SharedRead<Map<string, PositionInfo>>;
  private readonly marks: SharedRead<Map<string, number>>;

  constructor(exchange: FuturesExchange, maxAgeMs = 1_000) {
    this.positions = new SharedRead(async () => new Map((await exchange.positions()).map((p) => [p.symbol, p])), maxAgeMs);
    this.marks = new SharedRead(() => exchange.markPrices(), maxAgeMs);
  }

  /** `at` is the local time the snapshot was asked for: a later read has a larger `at`. */
  async read(symbol: string, after: number | null = null): Promise<Reading> {
    const snapshot = await this.positions.get(after);
    const row = snapshot.data.get(symbol);
    const markPrice = row && row.markPrice > 0 ? row.markPrice : ((await this.marks.get(null)).data.get(symbol) ?? Number.NaN);
    return { at: snapshot.at, positionAmt: row?.positionAmt ?? 0, markPrice };
  }
}
