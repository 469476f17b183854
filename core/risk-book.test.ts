import { describe, expect, it } from 'vitest';
import { DEFAULT_RISK_LIMITS } from './risk.js';
import { applyAdopt, applyKill, applyRelease, applyReserve, bookTotals, emptyBook, previewReserve, publishedBook, refusalFromCopy, venueDayKey, type ReserveRequest } from './risk-book.js';

const DAY1 = Date.UTC(2025, 8, 1, 10);
const DAY2 = Date.UTC(2025, 8, 2, 0, 5);
const limits = { ...DEFAULT_RISK_LIMITS, maxOpenPositions: 3, maxTotalNotional: 600, maxSymbolNotional: 500, dailyLossLimit: 5 };
const req = (positionId: string, symbol: string, notional = 150, venueTime = DAY1): ReserveRequest => ({ positionId, symbol, notional, leverage: 5, venueTime, limits });
const rule = (v: ReturnType<typeof applyReserve>) => (v.approved ? 'OK' : v.rule);

describe('risk book', () => {
  it('reserves capacity before the order, so a burst of entries stops at the limits', () => {
    const book = emptyBook();
    const verdicts = Array.from({ length: 30 }, (_, i) => rule(applyReserve(book, req(`S${i}-a-1`, `S${i}USDT`))));
    expect(verdicts.filter((v) => v === 'OK')).toHaveLength(3);
    expect(verdicts.slice(3).every((v) => v === 'MAX_POSITIONS')).toBe(true);
    expect(bookTotals(book)).toEqual({ positions: 3, notional: 450 });

    const big = emptyBook();
    const bigVerdicts = Array.from({ length: 30 }, (_, i) => rule(applyReserve(big, req(`S${i}-a-1`, `S${i}USDT`, 222))));
    expect(bigVerdicts.filter((v) => v === 'OK')).toHaveLength(2);
    expect(bigVerdicts[2]).toBe('TOTAL_NOTIONAL');
    expect(bookTotals(big).notional).toBeLessThanOrEqual(600);
  });

  it('is idempotent per position id and frees capacity on release', () => {
    const book = emptyBook();
    for (const id of ['A-x-1', 'B-x-1', 'C-x-1']) applyReserve(book, req(id, id.slice(0, 1) + 'USDT'));
    expect(rule(applyReserve(book, req('A-x-1', 'AUSDT')))).toBe('OK'); // a retried update
    expect(bookTotals(book).positions).toBe(3);
    expect(rule(applyReserve(book, req('D-x-1', 'DUSDT')))).toBe('MAX_POSITIONS');
    expect(applyRelease(book, { positionId: 'A-x-1', netPnl: 0 })).toBe(true);
    expect(rule(applyReserve(book, req('D-x-1', 'DUSDT')))).toBe('OK');
  });

  it('never counts a P&L twice and counts the daily loss in the venue clock', () => {
    const book = emptyBook();
    applyReserve(book, req('A-x-1', 'AUSDT'));
    applyReserve(book, req('B-x-1', 'BUSDT'));
    expect(applyRelease(book, { positionId: 'A-x-1', netPnl: -3, venueTime: DAY1 + 60_000 })).toBe(true);
    expect(applyRelease(book, { positionId: 'A-x-1', netPnl: -3, venueTime: DAY1 + 60_000 })).toBe(false);
    expect(book.day).toEqual({ key: '2025-09-01', netPnl: -3, closed: 1 });
    // A release without a venue time belongs to the venue's latest known time.
    applyRelease(book, { positionId: 'B-x-1', netPnl: -2.5 });
    expect(book.day.netPnl).toBe(-5.5);
    expect(rule(applyReserve(book, req('C-x-1', 'CUSDT', 150, DAY1 + 120_000)))).toBe('DAILY_LOSS');
    // The venue's next UTC day starts afresh (a replay in 2025 says so, whatever the wall clock).
    expect(rule(applyReserve(book, req('C-x-1', 'CUSDT', 150, DAY2)))).toBe('OK');
    expect(book.day).toEqual({ key: venueDayKey(DAY2), netPnl: 0, closed: 0 });
    // A late report of the previous day does not count in today's loss.
    applyReserve(book, req('D-x-1', 'DUSDT', 150, DAY2));
    applyRelease(book, { positionId: 'D-x-1', netPnl: -50, venueTime: DAY1 + 3_600_000 });
    expect(book.day.netPnl).toBe(0);
  });

  it('refuses oversized, malformed and over-leveraged orders, and everything under the kill switch', () => {
    const book = emptyBook();
    expect(rule(applyReserve(book, { ...req('A-x-1', 'AUSDT'), notional: 5_000 }))).toBe('ORDER_NOTIONAL');
    expect(rule(applyReserve(book, { ...req('A-x-1', 'AUSDT'), notional: Number.NaN }))).toBe('INVALID_ORDER');
    expect(rule(applyReserve(book, { ...req('A-x-1', 'AUSDT'), notional: Number.POSITIVE_INFINITY }))).toBe('INVALID_ORDER');
    expect(rule(applyReserve(book, { ...req('A-x-1', 'AUSDT'), leverage: 20 }))).toBe('LEVERAGE');
    applyKill(book, { on: true, reason: 'test', flatten: true }, DAY1);
    expect(rule(applyReserve(book, req('A-x-1', 'AUSDT')))).toBe('GLOBAL_KILL');
    expect(book.kill).toMatchObject({ on: true, flatten: true });
    applyKill(book, { on: false, reason: 'resume', flatten: true }, DAY1);
    expect(book.kill.flatten).toBe(false);
    expect(rule(applyReserve(book, req('A-x-1', 'AUSDT')))).toBe('OK');
    expect(book.reservations).toHaveLength(1);
  });

  it('previews a verdict without changing the book', () => {
    const book = emptyBook();
    applyReserve(book, req('A-x-1', 'AUSDT', 150, DAY1));
    applyRelease(book, { positionId: 'A-x-1', netPnl: -10, venueTime: DAY1 });
    const before = JSON.stringify(book);
    expect(rule(previewReserve(book, req('B-x-1', 'BUSDT', 150, DAY1 + 1)))).toBe('DAILY_LOSS');
    expect(rule(previewReserve(book, req('B-x-1', 'BUSDT', 150, DAY2)))).toBe('OK'); // a later venue day starts afresh
    expect(JSON.stringify(book)).toBe(before);
  });

  it('counts adopted exposure against the limits, once', () => {
    const book = emptyBook();
    expect(applyAdopt(book, { positionId: 'A-r-1', symbol: 'AUSDT', notional: 450, leverage: 5 })).toBe(true);
    expect(applyAdopt(book, { positionId: 'A-r-1', symbol: 'AUSDT', notional: 450, leverage: 5 })).toBe(false);
    expect(rule(applyReserve(book, req('B-x-1', 'BUSDT', 200)))).toBe('TOTAL_NOTIONAL');
    expect(rule(applyReserve(book, { ...req('B-x-1', 'BUSDT', 100), dryRun: true }))).toBe('OK');
    expect(book.reservations).toHaveLength(1);
  });

  it('refuses from a published copy exactly what the book refuses, and approves nothing itself', () => {
    const book = emptyBook();
    const proposal = (symbol: string, notional = 150) => ({ symbol, notional, leverage: 5 });
    applyReserve(book, req('A-x-1', 'AUSDT'));
    applyReserve(book, req('B-x-1', 'BUSDT'));
    // Room left: the copy refuses nothing the book would take (the book still decides the approval).
    expect(refusalFromCopy(publishedBook(book), proposal('CUSDT'), limits, DAY1)).toBeNull();
    expect(refusalFromCopy(publishedBook(book), proposal('AUSDT', 400), limits, DAY1)?.rule).toBe('TOTAL_NOTIONAL');
    applyReserve(book, req('C-x-1', 'CUSDT'));
    const full = publishedBook(book);
    expect(JSON.stringify(full)).not.toContain('A-x-1'); // ids stay in the book
    for (const [symbol, notional] of [['DUSDT', 150], ['AUSDT', 100], ['EUSDT', 5_000]] as const) {
      const fromBook = previewReserve(book, req('N-x-1', symbol, notional));
      expect(refusalFromCopy(full, proposal(symbol, notional), limits, DAY1)).toEqual(fromBook);
    }
    // A stale copy may refuse what the book now takes; that is the direction it is allowed to be wrong in.
    applyRelease(book, { positionId: 'A-x-1', netPnl: -6, venueTime: DAY1 });
    expect(rule(previewReserve(book, req('D-x-1', 'DUSDT')))).toBe('DAILY_LOSS');
    expect(refusalFromCopy(full, proposal('DUSDT'), limits, DAY1)?.rule).toBe('MAX_POSITIONS');
    // The daily loss belongs to its venue day; the kill switch to everything.
    const lost = publishedBook(book);
    expect(refusalFromCopy(lost, proposal('DUSDT'), limits, DAY1)?.rule).toBe('DAILY_LOSS');
    applyRelease(book, { positionId: 'B-x-1', netPnl: 0, venueTime: DAY1 });
    expect(refusalFromCopy(publishedBook(book), proposal('DUSDT'), limits, DAY2)).toBeNull();
    applyKill(book, { on: true, reason: 'test' }, DAY2);
    expect(refusalFromCopy(publishedBook(book), proposal('DUSDT'), limits, DAY2)?.rule).toBe('GLOBAL_KILL');
    // Reservations on their way to the book count as taken: no more go out than there is room for.
    const roomForThree = publishedBook(emptyBook());
    expect(refusalFromCopy(roomForThree, proposal('DUSDT'), limits, DAY2, [{ symbol: 'AUSDT', notional: 150 }, { symbol: 'BUSDT', notional: 150 }])).toBeNull();
    const three = [{ symbol: 'AUSDT', notional: 150 }, { symbol: 'BUSDT', notional: 150 }, { symbol: 'CUSDT', notional: 150 }];
    expect(refusalFromCopy(roomForThree, proposal('DUSDT'), limits, DAY2, three)?.rule).toBe('MAX_POSITIONS');
    expect(refusalFromCopy(roomForThree, proposal('AUSDT', 400), limits, DAY2, [{ symbol: 'AUSDT', notional: 150 }])?.rule).toBe('SYMBOL_NOTIONAL');
    expect(refusalFromCopy(roomForThree, proposal('AUSDT', 400), limits, DAY2)).toBeNull();
  });
});
