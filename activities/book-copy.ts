import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { refusalFromCopy, type PublishedBook } from '../core/risk-book.js';
import type { EntryProposal, RiskLimits, RiskVerdict } from '../core/risk.js';
import { PUBLISHED_BOOK_MEMO } from '../workflows/book-contracts.js';

/** How long one read of the book's copy serves every entry on the worker. */
export const BOOK_COPY_MAX_AGE_MS = 500;
const READ_DEADLINE_MS = 2_000;

export type Refusal = Extract<RiskVerdict, { approved: false }>;

/**
 * The risk book's published copy (its memo, read with `describe`: the server answers from its own state, no
 * workflow task), shared by every entry on the worker and read at most every BOOK_COPY_MAX_AGE_MS.
 *
 * Why: while the book is full, a fleet's entries are refused one by one, and each refusal went through the book's
 * workflow, one workflow task at a time. bench:fleet at 300 symbols on a slow 2-core machine: a quarter to two fifths
 * of the decisions were entries the full book refused (MAX_POSITIONS); their reservations waited 10 to 16 s for the
 * book, most timed out, and their heartbeats and update polls were most of the dev server's work. A refusal from
 * the copy costs nothing; an entry the copy lets through goes to the book, which alone approves.
 */
export class BookCopy {
  private read: { at: number; copy: Promise<PublishedBook | null> } | null = null;
  /** This worker's reservations on their way to the book, by a local id. */
  private readonly inFlight = new Map<number, { symbol: string; notional: number }>();
  private nextId = 0;

  constructor(
    private readonly client: Client,
    private readonly bookId: string,
    private readonly log: Logger,
    private readonly maxAgeMs = BOOK_COPY_MAX_AGE_MS,
  ) {}

  /**
   * The refusal the copy shows for this entry, with this worker's reservations in flight counted as taken, or null (no
   * copy, unreadable, or it would let the entry through).
   *
   * Why count them: when many loops want to enter before the book is full (a fleet starting, a candle close after
   * positions closed), the copy still shows room and every one of them went to the book; bench:fleet at 500 symbols
   * never recovered from that start. Counted, no more reservations go out than the book has room for.
   */
  async refusal(p: EntryProposal, limits: RiskLimits, now = Date.now()): Promise<Refusal | null> {
    const copy = await this.latest(now);
    if (!copy) return null;
    const inFlight = [...this.inFlight.values()];
    const refusal = refusalFromCopy(copy, p, limits, now, inFlight);
    if (!refusal) return null;
    const reserving = inFlight.length > 0 ? `; ${inFlight.length} being reserved by this worker` : '';
    return { ...refusal, detail: `${refusal.detail} (the risk book's published copy${reserving})` };
  }

  /** Run a reservation of `p` at the book, counted in flight meanwhile. */
  async reserving<T>(p: { symbol: string; notional: number }, reserve: () => Promise<T>): Promise<T> {
    const id = this.nextId++;
    this.inFlight.set(id, { symbol: p.symbol, notional: p.notional });
    try {
      return await reserve();
    } finally {
      this.inFlight.delete(id);
    }
  }

  private latest(now: number): Promise<PublishedBook | null> {
    if (!this.read || now - this.read.at >= this.maxAgeMs) this.read = { at: now, copy: this.fetch() };
    return this.read.copy;
  }

  private async fetch(): Promise<PublishedBook | null> {
    try {
      const d = await this.client.withDeadline(Date.now() + READ_DEADLINE_MS, () => this.client.workflow.getHandle(this.bookId).describe());
      if (d.status.name !== 'RUNNING') return null;
      return asPublishedBook(d.memo?.[PUBLISHED_BOOK_MEMO]);
    } catch (err) {
      // No book yet, or Temporal slow: the entry asks the book itself, as before there was a copy.
      this.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'risk book copy not read');
      return null;
    }
  }
}

/** The memo value if it has the copy's shape (a book from before copies has none). */
function asPublishedBook(v: unknown): PublishedBook | null {
  if (typeof v !== 'object' || v === null) return null;
  const c = v as Partial<PublishedBook>;
  const ok =
    Array.isArray(c.reservations) &&
    c.reservations.every((r) => typeof r?.symbol === 'string' && Number.isFinite(r?.notional)) &&
    typeof c.killOn === 'boolean' &&
    typeof c.day?.key === 'string' &&
    Number.isFinite(c.day?.netPnl);
  return ok ? (c as PublishedBook) : null;
}
