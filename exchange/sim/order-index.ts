import type { AlgoRecord, OrderRecord } from './state.js';

/**
 * Binance's retention rule for Query Order and Query Algo Order: an order is no longer found once it is
 * CANCELED or EXPIRED with no fill and 3 days old, or 90 days old whatever its status. Ages are counted in
 * market time, the time axis of every record of the local exchange.
 */
const UNFILLED_FINAL_KEPT_MS = 3 * 86_400_000;
const KEPT_MS = 90 * 86_400_000;

export function isOpenOrder(o: OrderRecord): boolean {
  return o.status === 'NEW' || o.status === 'PARTIALLY_FILLED';
}

export function orderFindable(o: OrderRecord, now: number): boolean {
  if (o.time + KEPT_MS < now) return false;
  const unfilledFinal = (o.status === 'CANCELED' || o.status === 'EXPIRED') && o.executedQty === 0;
  return !(unfilledFinal && o.time + UNFILLED_FINAL_KEPT_MS < now);
}

export function algoFindable(a: AlgoRecord, now: number): boolean {
  if (a.createTime + KEPT_MS < now) return false;
  const unfilledFinal = (a.status === 'CANCELED' || a.status === 'EXPIRED') && a.actualOrderId === null;
  return !(unfilledFinal && a.createTime + UNFILLED_FINAL_KEPT_MS < now);
}

/**
 * Records by client id. Binance only requires a client id to be unique among *open* orders, so one id may
 * name several records over time; they are kept oldest first.
 */
export class ClientIdIndex<T> {
  private readonly byKey = new Map<string, T[]>();

  add(key: string, record: T): void {
    const list = this.byKey.get(key);
    if (list) list.push(record);
    else this.byKey.set(key, [record]);
  }

  remove(key: string, record: T): void {
    const list = this.byKey.get(key);
    if (!list) return;
    const i = list.indexOf(record);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(key);
  }

  all(key: string): readonly T[] {
    return this.byKey.get(key) ?? [];
  }

  /**
   * The most recent record under `key` that `accept` takes. Which one Binance answers when several orders
   * share a client id is not documented; the newest is what a client that reuses an id means.
   */
  latest(key: string, accept: (r: T) => boolean): T | undefined {
    const list = this.byKey.get(key);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) if (accept(list[i]!)) return list[i];
    return undefined;
  }
}
