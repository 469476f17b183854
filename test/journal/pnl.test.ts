import { describe, expect, it } from 'vitest';
import { useTestJournal } from '../helpers/db.js';

const db = useTestJournal();

async function closedPosition(id: string, symbol: string, netPnl: number, closedAt: Date, fees = 0.5) {
  await db.journal.openPosition({
    positionId: id, workflowId: `position-${id}`, symbol, side: 'SHORT', quantity: 2, entryPrice: 100.25,
    entryFee: fees / 2, openedAt: new Date(closedAt.getTime() - 60_000), stopPrice: 105, takeProfitPrice: 90,
  });
  await db.journal.closePosition({
    positionId: id, exitPrice: 99, exitReason: 'STOP_LOSS', exitFee: fees / 2, grossPnl: netPnl + fees, netPnl, closedAt,
  });
}

describe('Journal P&L', () => {
  it('sums realized P&L since a time and summarises by symbol', async () => {
    const now = new Date('2026-03-10T12:00:00Z');
    await closedPosition('a', 'BTCUSDT', 12.5, new Date('2026-03-09T12:00:00Z'));
    await closedPosition('b', 'BTCUSDT', -4.25, new Date('2026-03-10T01:00:00Z'));
    await closedPosition('c', 'ETHUSDT', 1.75, new Date('2026-03-10T11:00:00Z'));
    await db.journal.openPosition({
      positionId: 'd', workflowId: 'position-d', symbol: 'ETHUSDT', side: 'LONG', quantity: 3, entryPrice: 10,
      entryFee: 0.1, openedAt: now, stopPrice: null, takeProfitPrice: null,
    });

    expect(await db.journal.realizedPnlSince(new Date('2026-03-10T00:00:00Z'))).toBeCloseTo(-2.5, 10);
    expect(await db.journal.realizedPnlSince(new Date(0))).toBeCloseTo(10, 10);
    expect(await db.journal.realizedPnlSince(new Date('2030-01-01T00:00:00Z'))).toBe(0);

    const summary = await db.journal.pnlSummary(now);
    expect(summary).toMatchObject({ closedPositions: 3, wins: 2, losses: 1, openPositions: 1 });
    expect(summary.realizedNet).toBeCloseTo(10, 10);
    expect(summary.realizedGross).toBeCloseTo(11.5, 10);
    expect(summary.fees).toBeCloseTo(1.5, 10);
    expect(summary.todayNet).toBeCloseTo(-2.5, 10);
    expect(summary.bySymbol).toEqual([
      { symbol: 'BTCUSDT', closedPositions: 2, realizedNet: 8.25 },
      { symbol: 'ETHUSDT', closedPositions: 1, realizedNet: 1.75 },
    ]);

    expect((await db.journal.positions({ status: 'open' })).map((p) => p.positionId)).toEqual(['d']);
    expect((await db.journal.positions({ status: 'closed' })).map((p) => p.positionId)).toEqual(['c', 'b', 'a']);
    expect(await db.journal.positions({ status: 'all', limit: 2 })).toHaveLength(2);
    expect((await db.journal.openPositions())[0]).toMatchObject({ positionId: 'd', notional: 30 });
  });
});
