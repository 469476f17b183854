import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PnlReport } from '../../journal/index.js';
import { useTestJournal } from '../helpers/db.js';

/** `qt pnl` and the journal query under it, on a real Postgres. */
const db = useTestJournal();
const root = path.resolve(import.meta.dirname, '../..');
const DAY = 86_400_000;

async function closed(id: string, symbol: string, side: 'LONG' | 'SHORT', net: number, fees: number, closedAt: Date) {
  await db.journal.openPosition({ positionId: id, workflowId: `w-${id}`, symbol, side, quantity: 1, entryPrice: 100, entryFee: fees / 2, openedAt: new Date(closedAt.getTime() - 60_000), stopPrice: null, takeProfitPrice: null });
  await db.journal.closePosition({ positionId: id, exitPrice: 100, exitReason: 'TAKE_PROFIT', exitFee: fees / 2, grossPnl: net + fees, netPnl: net, closedAt });
}

async function signal(symbol: string, seq: number, price: number, at: Date) {
  await db.journal.recordSignal({ workflowId: `qt-symbol-${symbol}`, symbol, seq, candleTime: at, signal: 'HOLD', confidence: 0.5, probHold: 0.5, probBuy: 0.25, probSell: 0.25, model: 'xgb-v1', price, decision: 'SKIP', reason: null, at });
}

function qt(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'client/main.ts', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, DATABASE_URL: db.url } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('qt pnl', () => {
  it('reports realized P&L in a window, by day and by symbol, and open positions at the last journaled price', async () => {
    const now = Date.now();
    await closed('old', 'BTCUSDT', 'LONG', 50, 1, new Date(now - 10 * DAY));
    await closed('a', 'BTCUSDT', 'LONG', 4, 0.5, new Date(now - 2 * DAY));
    await closed('b', 'ETHUSDT', 'SHORT', -3, 0.25, new Date(now - 2 * DAY));
    await closed('c', 'ETHUSDT', 'LONG', 2, 0.25, new Date(now - 60_000));
    // Open: SOL LONG 2 @ 10 marked at 11 (+2), BTC SHORT 1 @ 100 marked at 103 (-3), XRP without a price yet.
    await db.journal.openPosition({ positionId: 'o1', workflowId: 'w', symbol: 'SOLUSDT', side: 'LONG', quantity: 2, entryPrice: 10, entryFee: 0.01, openedAt: new Date(now - 5_000), stopPrice: null, takeProfitPrice: null });
    await db.journal.openPosition({ positionId: 'o2', workflowId: 'w', symbol: 'BTCUSDT', side: 'SHORT', quantity: 1, entryPrice: 100, entryFee: 0.05, openedAt: new Date(now - 5_000), stopPrice: null, takeProfitPrice: null });
    await db.journal.openPosition({ positionId: 'o3', workflowId: 'w', symbol: 'XRPUSDT', side: 'LONG', quantity: 5, entryPrice: 2, entryFee: 0.005, openedAt: new Date(now - 5_000), stopPrice: null, takeProfitPrice: null });
    await signal('SOLUSDT', 1, 10.5, new Date(now - 4_000));
    await signal('SOLUSDT', 2, 11, new Date(now - 3_000));
    await signal('BTCUSDT', 1, 103, new Date(now - 3_000));

    const week = await db.journal.pnlReport({ since: new Date(now - 7 * DAY), by: 'symbol' });
    expect(week.realized).toMatchObject({ trades: 3, wins: 2 });
    expect(week.realized.net).toBeCloseTo(3, 10);
    expect(week.realized.fees).toBeCloseTo(1, 10);
    expect(week.realized.winRate).toBeCloseTo(2 / 3, 10);
    expect(week.open).toMatchObject({ positions: 3, unmarked: 1 });
    expect(week.open.unrealized).toBeCloseTo(2 - 3, 10);
    expect(week.open.notional).toBeCloseTo(20 + 100 + 10, 10);
    expect(week.rows.map((r) => [r.key, r.trades, r.open?.positions])).toEqual([['BTCUSDT', 1, 1], ['ETHUSDT', 2, 0], ['SOLUSDT', 0, 1], ['XRPUSDT', 0, 1]]);
    expect(week.rows.find((r) => r.key === 'ETHUSDT')!.net).toBeCloseTo(-1, 10);

    const all = await db.journal.pnlReport({ by: 'day' });
    expect(all.realized.trades).toBe(4);
    expect(all.realized.net).toBeCloseTo(53, 10);
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    expect(all.rows.map((r) => [r.key, r.trades])).toEqual([[day(now - 10 * DAY), 1], [day(now - 2 * DAY), 2], [day(now - 60_000), 1]]);

    // The command line: JSON equals the query; text has the totals and one line per symbol.
    const json = qt('pnl', '--since', '7d', '--by', 'symbol', '--json');
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as PnlReport;
    expect(parsed.realized.trades).toBe(3);
    expect(parsed.open.unrealized).toBeCloseTo(-1, 10);
    const text = qt('pnl', '--since', '7d', '--by', 'symbol');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('realized  net 3.00 (gross 4.00, fees 1.00), 3 trade(s), win rate 66.7 %');
    expect(text.stdout).toContain('open      3 position(s), notional 130.00, unrealized -1.00');
    expect(text.stdout).toMatch(/^ETHUSDT\s+2\s+50\.0 %\s+-1\.00/m);
  });

  it('rejects malformed arguments with usage and a non-zero exit', () => {
    const badBy = qt('pnl', '--by', 'week');
    expect(badBy.code).not.toBe(0);
    expect(badBy.stderr).toMatch(/--by.*week|Allowed choices are day, symbol/);
    const badSince = qt('pnl', '--since', 'yesterday');
    expect(badSince.code).not.toBe(0);
    expect(badSince.stderr).toContain('invalid duration "yesterday"');
  });
});
