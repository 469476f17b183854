import type { Client } from '@temporalio/client';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { emptyBook, publishedBook, type PublishedBook } from '../core/risk-book.js';
import { DEFAULT_RISK_LIMITS } from '../core/risk.js';
import { PUBLISHED_BOOK_MEMO } from '../workflows/book-contracts.js';
import { BookCopy } from './book-copy.js';

const NOW = Date.UTC(2026, 11, 3, 12);
const limits = { ...DEFAULT_RISK_LIMITS, maxOpenPositions: 2 };
const entry = (symbol: string) => ({ symbol, notional: 100, leverage: 5 });

/** A client whose `describe` of the book answers `memo` (or throws), counting the reads. */
function clientShowing(answer: () => unknown) {
  const reads = { n: 0 };
  const client = {
    withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
    workflow: {
      getHandle: () => ({
        describe: async () => {
          reads.n++;
          const memo = answer();
          return { status: { name: 'RUNNING' }, memo: { [PUBLISHED_BOOK_MEMO]: memo } };
        },
      }),
    },
  } as unknown as Client;
  return { client, reads };
}

const withReservations = (...symbols: string[]): PublishedBook => ({ ...publishedBook(emptyBook()), reservations: symbols.map((symbol) => ({ symbol, notional: 100 })) });

describe("the risk book's published copy on a worker", () => {
  it('refuses what the copy refuses, marked as the copy, and reads it once per half second', async () => {
    let shown: PublishedBook = withReservations('AUSDT', 'BUSDT');
    const { client, reads } = clientShowing(() => shown);
    const copy = new BookCopy(client, 'qt-risk-book', pino({ level: 'silent' }));
    const refused = await copy.refusal(entry('CUSDT'), limits, NOW);
    expect(refused).toMatchObject({ approved: false, rule: 'MAX_POSITIONS' });
    expect(refused!.detail).toMatch(/\(the risk book's published copy\)$/);
    shown = withReservations('AUSDT');
    expect(await copy.refusal(entry('CUSDT'), limits, NOW + 499)).not.toBeNull(); // the same read
    expect(reads.n).toBe(1);
    expect(await copy.refusal(entry('CUSDT'), limits, NOW + 500)).toBeNull(); // read again: room
    expect(reads.n).toBe(2);
  });

  it('counts its reservations in flight as taken, until they are answered', async () => {
    const { client } = clientShowing(() => withReservations('AUSDT'));
    const copy = new BookCopy(client, 'qt-risk-book', pino({ level: 'silent' }));
    let answer!: () => void;
    const reservation = copy.reserving(entry('BUSDT'), () => new Promise<void>((r) => (answer = r)));
    const refused = await copy.refusal(entry('CUSDT'), limits, NOW);
    expect(refused?.rule).toBe('MAX_POSITIONS');
    expect(refused?.detail).toContain('1 being reserved by this worker');
    answer();
    await reservation;
    expect(await copy.refusal(entry('CUSDT'), limits, NOW)).toBeNull();
  });

  it('refuses nothing without a copy it can read: the entry asks the book', async () => {
    const broken = new BookCopy(clientShowing(() => ({ reservations: 'not a list' })).client, 'qt-risk-book', pino({ level: 'silent' }));
    expect(await broken.refusal(entry('CUSDT'), { ...limits, maxOpenPositions: 0 }, NOW)).toBeNull();
    const unreachable = new BookCopy(
      clientShowing(() => {
        throw new Error('deadline exceeded');
      }).client,
      'qt-risk-book',
      pino({ level: 'silent' }),
    );
    expect(await unreachable.refusal(entry('CUSDT'), { ...limits, maxOpenPositions: 0 }, NOW)).toBeNull();
  });
});
