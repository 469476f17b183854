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
 * workflow, one workflow task at a time. bench:fleet at 300 symbols on a slow 2-core machine: 37 % of the passes
 * were entries the full book refused (MAX_POSITIONS); their reservations waited 10 to 16 s for the book, a third
 * timed out, and their heartbeats and update polls were most of the dev server's work. A refusal from the copy costs
 * nothing; an entry the copy lets through goes to the book, which alone approves.
 */
export class BookCopy {
  private read: { at: number; copy: Promise<PublishedBook | null> } | null = null;

  constructor(
    private readonly client: Client,
    private readonly bookId: string,
    private readonly log: Logger,
    private readonly maxAgeMs = BOOK_COPY_MAX_AGE_MS,
  ) {}

  /** The refusal the copy shows for this entry, or null (no copy, unreadable, or it would let the entry through). */
  async refusal(p: EntryProposal, limits: RiskLimits, now = Date.now()): Promise<Refusal | null> {
    const copy = await this.latest(now);
    if (!copy) return null;
    const refusal = refusalFromCopy(copy, p, limits, now);
    return refusal && { ...refusal, detail: `${refusal.detail} (the risk book's published copy)` };
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
