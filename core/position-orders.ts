import type { OrderSide } from './types.js';

/**
 * The orders of one position as the position lifecycle tracks them, and the books kept from their fills.
 * Facts only: what the exchange answered, never what a missing answer might mean. Pure and plain JSON.
 */

export type ExchangeOrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'REJECTED' | 'EXPIRED';

const FINAL_STATUSES: ReadonlySet<ExchangeOrderStatus> = new Set(['FILLED', 'CANCELED', 'REJECTED', 'EXPIRED']);

/** An order as the exchange reports it (the adapter's OrderState adds symbol and reduce-only). */
export interface OrderFact {
  clientOrderId: string;
  orderId: number;
  side: OrderSide;
  status: ExchangeOrderStatus;
  origQty: number;
  executedQty: number;
  /** Average fill price; 0 while nothing filled. */
  avgPrice: number;
  /** Exchange time of the last change (market time on a replaying paper exchange). */
  updateTime: number;
}

/** One trade of the account (the adapter's Fill adds the symbol). */
export interface FillFact {
  tradeId: number;
  orderId: number;
  side: OrderSide;
  price: number;
  qty: number;
  quoteQty: number;
  commission: number;
  commissionAsset: string;
  realizedPnl: number;
  time: number;
}

/** What an order is for. STOP is the protective stop's fill; EXTERNAL are trades of orders not ours. */
export type OrderPurpose = 'ENTRY' | 'EXIT' | 'REDUCE' | 'STOP' | 'EXTERNAL';

export type AttemptStatus =
  /** Issued to an activity; its answer has not come back yet. */
  | 'SENDING'
  /** May or may not have reached the exchange (lost answer, timeout, activity failure). */
  | 'UNKNOWN'
  /** Known never to have executed (refused before sending, rate limited, not sent in its window). */
  | 'NOT_SENT'
  /** The exchange refused it; nothing executed. */
  | 'REFUSED'
  /** On the exchange and not final: NEW or PARTIALLY_FILLED. */
  | 'LIVE'
  /** Final on the exchange: FILLED, CANCELED, EXPIRED or REJECTED (executedQty says how much filled). */
  | 'FINAL'
  /** Outcome was unknown, and the exchange still did not know the id once it could no longer appear. */
  | 'ABSENT';

export interface OrderAttempt {
  clientOrderId: string;
  purpose: OrderPurpose;
  status: AttemptStatus;
  /** Workflow time the request was issued. */
  issuedAt: number;
  /** The request may leave the worker only before this (epoch ms): the fence that makes a resend safe. */
  sendBefore: number;
  /** Quantity asked for; null = the whole exchange position on our side (exits). */
  quantity: number | null;
  orderId: number | null;
  origQty: number;
  executedQty: number;
  avgPrice: number;
  /** Exchange time of the last change seen. */
  venueTime: number | null;
  /** Workflow time the order was first seen live (NEW / PARTIALLY_FILLED). */
  liveSince: number | null;
  lastLookupAt: number;
  /** Workflow time a cancel was last asked for. */
  cancelAt: number | null;
  /** Why it was refused or not sent. */
  detail: string | null;
  /** Quantity of this order's fills booked so far. */
  bookedQty: number;
  fillsRetryAt: number;
  fillsFailures: number;
}

export function newAttempt(clientOrderId: string, purpose: OrderPurpose, now: number, sendWindowMs: number, quantity: number | null = null): OrderAttempt {
  return {
    clientOrderId,
    purpose,
    status: 'SENDING',
    issuedAt: now,
    sendBefore: now + sendWindowMs,
    quantity,
    orderId: null,
    origQty: 0,
    executedQty: 0,
    avgPrice: 0,
    venueTime: null,
    liveSince: null,
    lastLookupAt: now,
    cancelAt: null,
    detail: null,
    bookedQty: 0,
    fillsRetryAt: now,
    fillsFailures: 0,
  };
}

/** A fill already known to have happened (the stop's order, trades of an order not ours). */
export function knownExecution(clientOrderId: string, purpose: OrderPurpose, orderId: number, executedQty: number, now: number): OrderAttempt {
  return { ...newAttempt(clientOrderId, purpose, now, 0), status: 'FINAL', orderId, origQty: executedQty, executedQty };
}

/**
 * Apply what the exchange reports about an attempt's order. Returns the quantity newly executed (the
 * exchange's executedQty never goes down; an older answer arriving late changes nothing).
 */
export function observeOrder(a: OrderAttempt, o: OrderFact, now: number): number {
  const delta = Math.max(0, o.executedQty - a.executedQty);
  a.executedQty = Math.max(a.executedQty, o.executedQty);
  if (o.avgPrice > 0) a.avgPrice = o.avgPrice;
  a.orderId = o.orderId;
  a.origQty = o.origQty;
  a.venueTime = Math.max(a.venueTime ?? 0, o.updateTime) || null;
  a.lastLookupAt = now;
  if (a.status !== 'FINAL') {
    a.status = FINAL_STATUSES.has(o.status) ? 'FINAL' : 'LIVE';
    if (a.status === 'LIVE') a.liveSince ??= now;
  }
  return delta;
}

/** Still able to execute (or to execute more): its answer is pending, unknown, or the order is live. */
export const isUnresolved = (a: OrderAttempt): boolean => a.status === 'SENDING' || a.status === 'UNKNOWN' || a.status === 'LIVE';

/** Needs its fills fetched: it executed more than has been booked. */
export const hasUnbookedFills = (a: OrderAttempt): boolean => a.executedQty > a.bookedQty + qtyTolerance(a.executedQty);

/** Quantities sit on the exchange's step grid; compare them with a relative tolerance for float noise. */
export function qtyTolerance(q: number): number {
  return 1e-9 * Math.max(1, Math.abs(q));
}

/** Everything booked from the position's fills. Net P&L = realized - fees over every fill. */
export interface Books {
  tradeIds: number[];
  realizedPnl: number;
  fees: number;
  entryQty: number;
  entryQuote: number;
  entryFees: number;
  closeQty: number;
  closeQuote: number;
  /** Exchange time of the newest closing fill. */
  lastCloseTime: number | null;
}

export const EMPTY_BOOKS: Books = { tradeIds: [], realizedPnl: 0, fees: 0, entryQty: 0, entryQuote: 0, entryFees: 0, closeQty: 0, closeQuote: 0, lastCloseTime: null };

/** Book fills not booked before; returns the new ones (a retried fetch books nothing twice). */
export function bookFills(books: Books, fills: FillFact[], opening: boolean): FillFact[] {
  const known = new Set(books.tradeIds);
  const fresh = fills.filter((f) => !known.has(f.tradeId));
  for (const f of fresh) {
    books.tradeIds.push(f.tradeId);
    books.realizedPnl += f.realizedPnl;
    books.fees += f.commission;
    if (opening) {
      books.entryQty += f.qty;
      books.entryQuote += f.price * f.qty;
      books.entryFees += f.commission;
    } else {
      books.closeQty += f.qty;
      books.closeQuote += f.price * f.qty;
      books.lastCloseTime = Math.max(books.lastCloseTime ?? 0, f.time);
    }
  }
  return fresh;
}

/** Volume-weighted average price of attempts' executions (their avgPrice), 0 when none has a price. */
export function executedVwap(attempts: OrderAttempt[]): number {
  let qty = 0;
  let quote = 0;
  for (const a of attempts) {
    if (a.executedQty <= 0 || a.avgPrice <= 0) continue;
    qty += a.executedQty;
    quote += a.executedQty * a.avgPrice;
  }
  return qty > 0 ? quote / qty : 0;
}
