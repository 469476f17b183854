import { describe, expect, it } from 'vitest';
import type { BookedFill, BookedOrder, PositionOpen, SignalRecord } from '../../journal/types.js';
import { Journal } from '../../journal/journal.js';
import { useTestJournal } from '../helpers/db.js';

const db = useTestJournal();

const signal = (over: Partial<SignalRecord> = {}): SignalRecord => ({
  workflowId: 'symbol-BTCUSDT', symbol: 'BTCUSDT', seq: 1, candleTime: new Date('2026-01-01T00:00:00Z'),
  signal: 'BUY', confidence: 0.71, probHold: 0.2, probBuy: 0.71, probSell: 0.09, model: 'xgb-test', price: 42_000.5,
  decision: 'ENTER', reason: null, at: new Date(), ...over,
});

const position = (over: Partial<PositionOpen> = {}): PositionOpen => ({
  positionId: 'pos-1', workflowId: 'position-pos-1', symbol: 'BTCUSDT', side: 'LONG', quantity: 0.01,
  entryPrice: 40_000, entryFee: 0.2, openedAt: new Date('2026-01-01T00:00:00Z'), stopPrice: 39_000,
  takeProfitPrice: 42_000, ...over,
});

describe('Journal', () => {
  it('lets an armed exit id be claimed once, by one of any number of workers claiming it at once', async () => {
    const id = `qt-${Date.now().toString(36)}-1-X1`;
    const claims = await Promise.all(Array.from({ length: 8 }, () => db.journal.claimArmedExit(id)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await db.journal.claimArmedExit(id)).toBe(false);
    expect(await db.journal.claimArmedExit(`${id}2`)).toBe(true);
  });

  it('books a retried signal once', async () => {
    const row = signal({ symbol: 'ETHUSDT', seq: 7 });
    expect(await db.journal.recordSignal(row)).toBe(true);
    // The retry arrives as JSON: times as ISO text. (A later write of the same key with another decision is a
    // re-run of the tick's workflow task, not a retry: test/journal/outage.test.ts.)
    expect(await db.journal.recordSignal({ ...row, at: new Date().toISOString(), candleTime: '2026-01-01T00:00:00.000Z' })).toBe(false);
    const rows = await db.journal.recentSignals({ sinceMs: 60_000, symbol: 'ETHUSDT' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ seq: 7, decision: 'ENTER', price: 42_000.5, confidence: 0.71 });
    expect(rows[0]!.candleTime).toEqual(new Date('2026-01-01T00:00:00Z'));
  });

  it('filters recent signals by time and symbol', async () => {
    await db.journal.recordSignal(signal({ symbol: 'SOLUSDT', seq: 1, at: new Date(Date.now() - 3_600_000) }));
    await db.journal.recordSignal(signal({ symbol: 'SOLUSDT', seq: 2 }));
    const lastMinute = await db.journal.recentSignals({ sinceMs: 60_000, symbol: 'SOLUSDT' });
    expect(lastMinute.map((s) => s.seq)).toEqual([2]);
    const lastDay = await db.journal.recentSignals({ sinceMs: 86_400_000, symbol: 'SOLUSDT' });
    expect(lastDay.map((s) => s.seq)).toEqual([2, 1]);
  });

  it('upserts orders by client id and ignores stale updates', async () => {
    const order: BookedOrder = {
      clientOrderId: 'qt-pos-2-entry', symbol: 'BTCUSDT', positionId: 'pos-2', purpose: 'ENTRY', side: 'BUY',
      type: 'MARKET', quantity: 0.01, status: 'NEW', exchangeOrderId: null, avgPrice: null, executedQty: 0,
      reduceOnly: false, updatedAt: 1_000,
    };
    await db.journal.upsertOrder(order);
    await db.journal.upsertOrder({ ...order, status: 'FILLED', exchangeOrderId: 991, avgPrice: 40_010.1, executedQty: 0.01, updatedAt: 2_000 });
    await db.journal.upsertOrder({ ...order, status: 'NEW', updatedAt: 1_500 }); // late retry
    const [row, ...rest] = await db.journal.orders({ symbol: 'BTCUSDT', limit: 10 });
    expect(rest).toHaveLength(0);
    expect(row).toMatchObject({ status: 'FILLED', exchangeOrderId: '991', avgPrice: 40_010.1, executedQty: 0.01, positionId: 'pos-2' });
  });

  it('books fills once per (symbol, tradeId)', async () => {
    const fill = (tradeId: number): BookedFill => ({
      symbol: 'BTCUSDT', tradeId, orderId: 991, side: 'BUY', price: 40_010.1, qty: 0.005, quoteQty: 200.0505,
      commission: 0.08, commissionAsset: 'USDT', realizedPnl: 0, time: 2_000, clientOrderId: 'qt-pos-2-entry', positionId: 'pos-2',
    });
    expect(await db.journal.recordFills([fill(1), fill(2)])).toBe(2);
    expect(await db.journal.recordFills([fill(2), fill(3)])).toBe(1);
    expect(await db.journal.recordFills([])).toBe(0);
    const fills = await db.journal.fillsForPosition('pos-2');
    expect(fills.map((f) => f.tradeId)).toEqual([1, 2, 3]);
    expect(fills.reduce((sum, f) => sum + f.commission, 0)).toBeCloseTo(0.24, 10);
  });

  it('opens and closes a position once', async () => {
    expect(await db.journal.openPosition(position({ positionId: 'pos-3' }))).toBe(true);
    expect(await db.journal.openPosition(position({ positionId: 'pos-3', quantity: 5 }))).toBe(false);
    const open = await db.journal.openPositions();
    expect(open.find((p) => p.positionId === 'pos-3')).toMatchObject({ quantity: 0.01, notional: 400 });

    const close = { positionId: 'pos-3', exitPrice: 41_000, exitReason: 'TAKE_PROFIT', exitFee: 0.2, grossPnl: 10, netPnl: 9.6, closedAt: new Date() };
    expect(await db.journal.closePosition(close)).toBe(true);
    expect(await db.journal.closePosition({ ...close, exitPrice: 1, netPnl: -100 })).toBe(false);
    expect(await db.journal.closePosition({ ...close, positionId: 'unknown' })).toBe(false);
    expect(await db.journal.getPosition('pos-3')).toMatchObject({ status: 'CLOSED', exitPrice: 41_000, netPnl: 9.6 });
    expect((await db.journal.openPositions()).some((p) => p.positionId === 'pos-3')).toBe(false);
  });

  it('records an entry and corrects it from the fills while open, never after the close', async () => {
    await db.journal.recordEntry(position({ positionId: 'pos-4', entryFee: 0, entryPrice: 40_010 }));
    await db.journal.recordEntry(position({ positionId: 'pos-4', entryFee: 0.2, entryPrice: 40_000 }));
    await db.journal.recordEntry(position({ positionId: 'pos-4', entryFee: 0.2, entryPrice: 40_000 }));
    expect(await db.journal.getPosition('pos-4')).toMatchObject({ status: 'OPEN', entryFee: 0.2, entryPrice: 40_000, quantity: 0.01 });
    await db.journal.closePosition({ positionId: 'pos-4', exitPrice: 41_000, exitReason: 'MANUAL', exitFee: 0.2, grossPnl: 10, netPnl: 9.6, closedAt: new Date() });
    await db.journal.recordEntry(position({ positionId: 'pos-4', quantity: 7 }));
    expect(await db.journal.getPosition('pos-4')).toMatchObject({ status: 'CLOSED', quantity: 0.01 });
  });

  it('books a keyed risk event once, however often it is written', async () => {
    const event = { kind: 'PROTECTION_FAILED', symbol: 'BTCUSDT', detail: { positionId: 'pos-5' } };
    expect(await db.journal.recordRiskEventOnce('pos-5:PROTECTION_FAILED', event)).toBe(true);
    expect(await db.journal.recordRiskEventOnce('pos-5:PROTECTION_FAILED', event)).toBe(false);
    const events = await db.journal.riskEvents(100);
    expect(events.filter((e) => e.kind === 'PROTECTION_FAILED' && e.detail.positionId === 'pos-5')).toHaveLength(1);
  });

  it('keeps the global kill switch across connections', async () => {
    expect((await db.journal.getGlobalKill()).on).toBe(false);
    await db.journal.setGlobalKill(true, 'manual stop');
    const other = await Journal.connect(db.url);
    try {
      const kill = await other.getGlobalKill();
      expect(kill).toMatchObject({ on: true, reason: 'manual stop' });
      expect(kill.at).toBeInstanceOf(Date);
      await other.setGlobalKill(false, 'resumed');
    } finally {
      await other.close();
    }
    expect(await db.journal.getGlobalKill()).toMatchObject({ on: false, reason: 'resumed' });
    const events = await db.journal.riskEvents(10);
    expect(events.slice(0, 2).map((e) => e.kind)).toEqual(['GLOBAL_RESUME', 'GLOBAL_KILL']);
  });
});
