import { checkRisk, type EntryProposal, type RiskLimits, type RiskVerdict } from './risk.js';

/**
 * The book-wide risk state: capacity reserved by entries (before their orders), the global kill
 * switch and the realized P&L of the venue's current day. Pure data and pure transitions: the
 * risk-book workflow applies them one at a time (Temporal runs its update and signal handlers
 * serially), which is what makes a reservation atomic across symbols.
 */
export interface Reservation {
  positionId: string;
  symbol: string;
  notional: number;
  leverage: number;
  /** Venue time of the reservation (epoch ms). */
  at: number;
  /** Exposure found on the exchange and taken over, rather than reserved before an order. */
  adopted: boolean;
}

export interface KillSwitch {
  on: boolean;
  reason: string | null;
  /** Orphaned exposure is flattened rather than adopted while this is set. */
  flatten: boolean;
  at: number | null;
}

export interface RiskBook {
  reservations: Reservation[];
  kill: KillSwitch;
  /** Realized P&L (after both fees) of positions closed in the venue's UTC day `key` (YYYY-MM-DD). */
  day: { key: string; netPnl: number; closed: number };
  /** Latest venue time seen (epoch ms): the venue's "now" for releases that carry no time. */
  venueNow: number;
  /** Recently released position ids, so a repeated release never counts a P&L twice. */
  released: string[];
}

export interface ReserveRequest {
  positionId: string;
  symbol: string;
  notional: number;
  leverage: number;
  /** The exchange's current time (market time in a replay). */
  venueTime: number;
  limits: RiskLimits;
  /** Check only (execution disabled): nothing is reserved. */
  dryRun?: boolean;
}

export interface ReleaseRequest {
  positionId: string;
  /** Realized P&L after both fees; 0 for an entry that never filled. */
  netPnl: number;
  /** Venue time of the exit; the book's latest venue time when absent. */
  venueTime?: number | null;
}

/** How many released ids are remembered for de-duplication. */
export const RELEASED_MEMORY = 2_000;

export function emptyBook(): RiskBook {
  return { reservations: [], kill: { on: false, reason: null, flatten: false, at: null }, day: { key: '', netPnl: 0, closed: 0 }, venueNow: 0, released: [] };
}

/** UTC calendar day of a venue time, e.g. 2025-09-01. */
export function venueDayKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Move the venue clock forward (never back); a new UTC day starts a new daily P&L. */
export function observeVenueTime(book: RiskBook, ms: number): void {
  if (!Number.isFinite(ms) || ms <= 0 || ms <= book.venueNow) return;
  book.venueNow = ms;
  const key = venueDayKey(ms);
  if (key > book.day.key) book.day = { key, netPnl: 0, closed: 0 };
}

/**
 * The verdict a reservation would get, without changing the book: a position id already holding a
 * reservation is approved again (an update retried after its answer was lost), and a request from a
 * later venue day is judged against that day's (empty) P&L.
 */
export function previewReserve(book: RiskBook, req: ReserveRequest): RiskVerdict {
  if (book.reservations.some((r) => r.positionId === req.positionId)) return { approved: true };
  const newDay = req.venueTime > book.venueNow && venueDayKey(req.venueTime) > book.day.key;
  return checkRisk(
    { symbol: req.symbol, notional: req.notional, leverage: req.leverage },
    { globalKill: book.kill.on, openPositions: book.reservations, realizedPnlToday: newDay ? 0 : book.day.netPnl },
    req.limits,
  );
}

/** Reserve capacity for one entry, or say why not. Idempotent per position id. */
export function applyReserve(book: RiskBook, req: ReserveRequest): RiskVerdict {
  const verdict = previewReserve(book, req);
  observeVenueTime(book, req.venueTime);
  if (verdict.approved && !req.dryRun && !book.reservations.some((r) => r.positionId === req.positionId)) {
    book.reservations.push({ positionId: req.positionId, symbol: req.symbol, notional: req.notional, leverage: req.leverage, at: book.venueNow, adopted: false });
  }
  return verdict;
}

/** Count exposure that exists without a reservation (adopted, or opened before reservations existed). */
export function applyAdopt(book: RiskBook, r: Omit<Reservation, 'adopted' | 'at'>): boolean {
  if (book.reservations.some((x) => x.positionId === r.positionId)) return false;
  book.reservations.push({ ...r, at: book.venueNow, adopted: true });
  return true;
}

/**
 * Free a position's capacity and book its realized P&L in the venue day it closed. A second release
 * of the same id changes nothing; a P&L from a venue day already past is not counted in today's.
 */
export function applyRelease(book: RiskBook, req: ReleaseRequest): boolean {
  if (book.released.includes(req.positionId)) return false;
  book.reservations = book.reservations.filter((r) => r.positionId !== req.positionId);
  const at = req.venueTime && req.venueTime > 0 ? req.venueTime : book.venueNow;
  observeVenueTime(book, at);
  if (Number.isFinite(req.netPnl) && (book.day.key === '' || venueDayKey(at) === book.day.key)) {
    if (book.day.key === '') book.day.key = venueDayKey(at);
    book.day.netPnl += req.netPnl;
    book.day.closed += 1;
  }
  book.released.push(req.positionId);
  if (book.released.length > RELEASED_MEMORY) book.released.splice(0, book.released.length - RELEASED_MEMORY);
  return true;
}

export function applyKill(book: RiskBook, kill: { on: boolean; reason: string | null; flatten?: boolean }, at: number): void {
  book.kill = { on: kill.on, reason: kill.reason, flatten: kill.on && !!kill.flatten, at };
}

/** Totals for display (Web UI, `qt risk`). */
export function bookTotals(book: RiskBook): { positions: number; notional: number } {
  return { positions: book.reservations.length, notional: book.reservations.reduce((s, r) => s + r.notional, 0) };
}

/**
 * The copy of the book its workflow shows outside (in its memo) after every change: what an entry needs to know that
 * the book would refuse it. Reservation ids, the kill's reason and the released ids stay inside.
 */
export interface PublishedBook {
  reservations: { symbol: string; notional: number }[];
  killOn: boolean;
  /** The venue day of the realized P&L (YYYY-MM-DD) and that P&L. */
  day: { key: string; netPnl: number };
}

export function publishedBook(book: RiskBook): PublishedBook {
  return {
    reservations: book.reservations.map((r) => ({ symbol: r.symbol, notional: r.notional })),
    killOn: book.kill.on,
    day: { key: book.day.key, netPnl: book.day.netPnl },
  };
}

/**
 * The refusal the book would give this entry, judged on a published copy, or null when the copy would let it through.
 *
 * Only a refusal is taken from a copy: the copy can be older than the book (a position released meanwhile), so it
 * may refuse an entry the book would now approve, which costs that entry one pass; an approval always comes from the
 * book itself, one request at a time. A `venueTime` in a later day than the copy's judges against that day's empty P&L.
 * Reservations in flight count as taken: an in-flight one the book then refuses, or one already in the copy, may cost
 * an entry a pass; none of them lets an entry through.
 */
export function refusalFromCopy(
  copy: PublishedBook,
  p: EntryProposal,
  limits: RiskLimits,
  venueTime: number,
  /** Reservations on their way to the book: counted as if approved, so no more go out than the book has room for. */
  inFlight: readonly { symbol: string; notional: number }[] = [],
): Extract<RiskVerdict, { approved: false }> | null {
  const newDay = venueDayKey(venueTime) > copy.day.key;
  const openPositions = [...copy.reservations, ...inFlight];
  const verdict = checkRisk(p, { globalKill: copy.killOn, openPositions, realizedPnlToday: newDay ? 0 : copy.day.netPnl }, limits);
  return verdict.approved ? null : verdict;
}
