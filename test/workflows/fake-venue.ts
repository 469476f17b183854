import type { DecisionRecord, LivePosition, PositionActivities, TradingActivities } from '../../activities/contracts.js';
import { passActivities } from '../../activities/pass.js';
import { ScriptedSignalSource } from '../../activities/signal-source.js';
import type { JournalWrite, OrderAnswer } from '../../core/position-lifecycle.js';
import type { FillFact, OrderFact } from '../../core/position-orders.js';
import type { OrphanPolicy } from '../../core/reconcile.js';
import { entryOrderSide, exitOrderSide, type PositionSide } from '../../core/types.js';

/**
 * The activities of the symbol and position workflows as an in-memory exchange and journal, for the
 * time-skipping workflow tests: the workflow code is the real one, only its side effects are modelled.
 * Every answer carries the test server's (skipped) time, as the real activities carry the venue's.
 * The real activities against the real client and the local exchange are covered by test/trading.
 */

interface Stop {
  symbol: string;
  side: PositionSide;
  triggerPrice: number;
  status: 'NEW' | 'FINISHED' | 'CANCELED';
  actualOrderId: number | null;
}

type Order = OrderFact & { symbol: string };

export class FakeVenue {
  readonly signals = new ScriptedSignalSource();
  /** Activity names in call order (the clock excluded). */
  readonly calls: string[] = [];
  readonly decisions: DecisionRecord[] = [];
  readonly journal: JournalWrite[] = [];
  readonly orders = new Map<string, Order>();
  readonly stops = new Map<string, Stop>();
  readonly fills: (FillFact & { symbol: string })[] = [];
  /** Exposure no position workflow owns, as ownership reads it, with the deployment's orphan policy. */
  readonly unowned = new Map<string, { positionAmt: number; orphanPolicy: OrphanPolicy }>();
  /** The symbols ownership was looked up for, in order. */
  readonly ownershipReads: string[] = [];
  /** Exits that expire unfilled before one fills. */
  exitsToExpire = 0;
  /** Stop placements fail (a 5xx storm) while this is true. */
  stopsFail = false;
  /** False: the exchange's stops do not trigger (a gap the venue has not acted on yet). */
  stopsFire = true;
  /** Answers held back after the order executed (a slow or lost response), released by the test. */
  private readonly held = new Map<'submitEntry' | 'submitExit', Promise<void>>();
  private readonly marks = new Map<string, number>();
  private readonly positionAmt = new Map<string, number>();
  private readonly entryPrice = new Map<string, number>();
  private nextOrderId = 1;

  constructor(private readonly clock: () => Promise<number>) {}

  /** Moves the mark; a protective stop it crosses fires, as it would on the exchange. */
  async setPrice(symbol: string, price: number): Promise<void> {
    this.marks.set(symbol, price);
    if (!this.stopsFire) return;
    for (const [id, stop] of this.stops) {
      const crossed = stop.side === 'LONG' ? price <= stop.triggerPrice : price >= stop.triggerPrice;
      if (stop.symbol !== symbol || stop.status !== 'NEW' || !crossed) continue;
      const order = this.execute(symbol, `${id}-fired`, exitOrderSide(stop.side), Math.abs(this.amount(symbol)), await this.clock());
      stop.status = 'FINISHED';
      stop.actualOrderId = order.orderId;
    }
  }

  /** The next answer of `name` waits, after its order executed, until the returned function is called. */
  holdAnswer(name: 'submitEntry' | 'submitExit'): () => void {
    let release!: () => void;
    this.held.set(name, new Promise<void>((resolve) => (release = resolve)));
    return release;
  }

  private async answer(name: 'submitEntry' | 'submitExit', answer: OrderAnswer): Promise<OrderAnswer> {
    const hold = this.held.get(name);
    this.held.delete(name);
    await hold;
    return answer;
  }

  amount(symbol: string): number {
    return this.positionAmt.get(symbol) ?? 0;
  }

  exitOrders(symbol: string): Order[] {
    return [...this.orders.values()].filter((o) => o.symbol === symbol && /-X\d+$/.test(o.clientOrderId));
  }

  private mark(symbol: string): number {
    const price = this.marks.get(symbol);
    if (price === undefined) throw new Error(`no price for ${symbol}`);
    return price;
  }

  private execute(symbol: string, clientOrderId: string, side: 'BUY' | 'SELL', qty: number, now: number): Order {
    const price = this.mark(symbol);
    const order: Order = { symbol, clientOrderId, orderId: this.nextOrderId++, side, status: 'FILLED', origQty: qty, executedQty: qty, avgPrice: price, updateTime: now };
    this.orders.set(clientOrderId, order);
    const before = this.amount(symbol);
    const after = before + (side === 'BUY' ? qty : -qty);
    // One-way mode: a fill against the position realizes P&L on the reduced quantity at the average entry.
    const reduced = Math.sign(before) !== 0 && Math.sign(before) !== Math.sign(after - before) ? Math.min(qty, Math.abs(before)) : 0;
    const realizedPnl = reduced * (price - (this.entryPrice.get(symbol) ?? price)) * Math.sign(before);
    if (reduced === 0) this.entryPrice.set(symbol, (Math.abs(before) * (this.entryPrice.get(symbol) ?? 0) + qty * price) / Math.abs(after));
    this.positionAmt.set(symbol, after);
    const quoteQty = qty * price;
    this.fills.push({ symbol, tradeId: order.orderId, orderId: order.orderId, side, price, qty, quoteQty, commission: quoteQty * 0.0005, commissionAsset: 'USDT', realizedPnl, time: now });
    return order;
  }

  private expire(symbol: string, clientOrderId: string, side: 'BUY' | 'SELL', qty: number, now: number): Order {
    const order: Order = { symbol, clientOrderId, orderId: this.nextOrderId++, side, status: 'EXPIRED', origQty: qty, executedQty: 0, avgPrice: 0, updateTime: now };
    this.orders.set(clientOrderId, order);
    return order;
  }

  /** Everything both workflows call; the names are the real activities' names (TradingActivities). */
  activities(): Partial<TradingActivities> {
    const logged = <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) => (...args: A): Promise<R> => {
      this.calls.push(name);
      return fn(...args);
    };
    const position: PositionActivities = {
      submitEntry: logged('submitEntry', async ({ symbol, side, notional, clientOrderId }): Promise<OrderAnswer> => {
        const price = this.mark(symbol);
        const order = this.execute(symbol, clientOrderId, entryOrderSide(side), notional / price, await this.clock());
        return this.answer('submitEntry', { outcome: 'ORDER', order, referencePrice: price });
      }),
      submitExit: logged('submitExit', async ({ symbol, side, clientOrderId, quantity }): Promise<OrderAnswer> => {
        const now = await this.clock();
        const ours = side === 'LONG' ? this.amount(symbol) : -this.amount(symbol);
        if (ours <= 0) return { outcome: 'FLAT', at: now };
        const qty = quantity ?? ours;
        if (this.exitsToExpire > 0) {
          this.exitsToExpire--;
          return { outcome: 'ORDER', order: this.expire(symbol, clientOrderId, exitOrderSide(side), qty, now) };
        }
        return this.answer('submitExit', { outcome: 'ORDER', order: this.execute(symbol, clientOrderId, exitOrderSide(side), qty, now) });
      }),
      lookupOrders: logged('lookupOrders', async ({ clientOrderIds }) => ({
        at: await this.clock(),
        orders: Object.fromEntries(clientOrderIds.map((id) => [id, this.orders.get(id) ?? null])),
      })),
      cancelOpenOrder: logged('cancelOpenOrder', async ({ clientOrderId }) => this.orders.get(clientOrderId) ?? null),
      fetchFills: logged('fetchFills', async ({ orderId }) => this.fills.filter((f) => f.orderId === orderId)),
      placeStop: logged('placeStop', async ({ symbol, side, triggerPrice, clientAlgoId }) => {
        if (this.stopsFail) return { outcome: 'FAILED', reason: '503 Service Unavailable' };
        this.stops.set(clientAlgoId, { symbol, side, triggerPrice, status: 'NEW', actualOrderId: null });
        return { outcome: 'PLACED', venueTime: await this.clock() };
      }),
      cancelStop: logged('cancelStop', async ({ clientAlgoId }) => {
        const stop = this.stops.get(clientAlgoId);
        if (stop?.status === 'FINISHED') return { outcome: 'FIRED', actualOrderId: stop.actualOrderId };
        if (stop) stop.status = 'CANCELED';
        return { outcome: 'GONE', actualOrderId: null };
      }),
      readExchangePosition: logged('readExchangePosition', async ({ symbol }) => ({ at: await this.clock(), positionAmt: this.amount(symbol), markPrice: this.mark(symbol) })),
      gatherCloseEvidence: logged('gatherCloseEvidence', async ({ clientAlgoId }) => {
        const stop = this.stops.get(clientAlgoId);
        return { stop: stop ? { status: stop.status, actualOrderId: stop.actualOrderId } : null, closingTrades: [] };
      }),
      applyJournalWrites: logged('applyJournalWrites', async ({ writes }) => void this.journal.push(...writes)),
      notifyPosition: async () => {},
      // No market streams here: positions poll at their usual rate.
      watchExits: async () => ({ streaming: false }),
      unwatchExits: async () => {},
    };
    const loop: Pick<TradingActivities, 'readClock' | 'evaluateSignal' | 'journalDecisions'> = {
      readClock: () => this.clock(),
      evaluateSignal: logged('evaluateSignal', async ({ symbol }) => this.signals.score(symbol, [])),
      journalDecisions: logged('journalDecisions', async ({ records }) => void this.decisions.push(...records)),
    };
    return {
      ...position,
      ...loop,
      // The worker's own composition of a quiet pass, over this venue's clock, signals and journal.
      ...passActivities(loop),
      reserveEntry: logged('reserveEntry', async () => ({ approved: true as const })),
      findLivePosition: logged('findLivePosition', async ({ symbol }): Promise<LivePosition> => {
        this.ownershipReads.push(symbol);
        const orphan = this.unowned.get(symbol);
        if (!orphan) return { owner: null, exposure: null };
        const markPrice = this.mark(symbol);
        return { owner: null, exposure: { positionAmt: orphan.positionAmt, entryPrice: markPrice, markPrice }, orphanPolicy: orphan.orphanPolicy };
      }),
      flattenSymbol: logged('flattenSymbol', async () => ({ flattened: false, netPnl: 0, venueTime: null, detail: 'nothing to flatten' })),
      loadKillSwitch: async () => ({ on: false, reason: null }),
      persistKillSwitch: async () => {},
    };
  }
}
