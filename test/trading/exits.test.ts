import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitLevels } from '../../core/exits.js';
import { TAKER_FEE_RATE } from '../../core/costs.js';
import { positionStateQuery, symbolWorkflowId } from '../../workflows/contracts.js';
import { captureHistory } from './capture.js';
import { openedPosition, showPrice, startHarness, uniqueSymbol, type Harness } from './harness.js';

/**
 * Scripted signals open real positions through the workflows, the real `binance` client and the
 * local exchange; prices are walked by hand so each exit fires at a known level, and the journal's
 * books are checked against the exchange's fills. The exit rules themselves (the trailing stop, the
 * time limit, which rule wins) are tested in skipped time in test/workflows/position.test.ts.
 */
describe('position exits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.startWorker();
  });
  afterAll(async () => h?.close());

  /** The journal's P&L must equal what the exchange booked: its fills' realized P&L minus all fees. */
  async function expectJournalMatchesExchange(positionId: string, symbol: string) {
    const row = await h.journal.getPosition(positionId);
    expect(row?.status).toBe('CLOSED');
    const fills = (await h.adminState()).fills.filter((f) => f.symbol === symbol);
    const fees = fills.reduce((s, f) => s + f.commission, 0);
    const realized = fills.reduce((s, f) => s + f.realizedPnl, 0);
    expect(fills.length).toBe(2);
    expect(row!.netPnl!).toBeCloseTo(realized - fees, 8);
    expect(row!.entryFee + row!.exitFee!).toBeCloseTo(fees, 10);
    // Binance sends commissions rounded to 8 decimals.
    for (const f of fills) expect(f.commission).toBeCloseTo(f.price * f.qty * TAKER_FEE_RATE, 7);
    return row!;
  }

  it('opens a LONG on BUY and takes profit at the take-profit level', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 100);
    h.signals.set(symbol, 'BUY', 0.8);
    await h.startSymbol(symbol);
    const pos = await openedPosition(h, symbol);
    expect(pos.side).toBe('LONG');
    h.signals.set(symbol, 'HOLD', 0.9);
    const { takeProfit } = exitLevels('LONG', pos.state.entryPrice, pos.params);
    await showPrice(h, pos.positionId, symbol, 101); // below take profit: holds
    expect((await pos.handle.query(positionStateQuery)).state.stage).toBe('OPEN');
    await h.setPrice(symbol, Number((takeProfit * 1.0005).toFixed(2)));
    const result = await pos.handle.result();
    expect(result.exitReason).toBe('TAKE_PROFIT');
    const row = await expectJournalMatchesExchange(pos.positionId, symbol);
    expect(row.exitPrice!).toBeGreaterThanOrEqual(takeProfit * 0.999);
    expect(row.netPnl!).toBeGreaterThan(0);
    // The row names the model whose signal opened it (the learning loop's own outcomes).
    expect(row.modelVersion).toBe('script');
    await captureHistory(pos.handle.workflowId, 'position-take-profit');
    await captureHistory(symbolWorkflowId(symbol), 'symbol-long-take-profit');
  });

  it('opens a SHORT on SELL and the exchange-side stop closes it at the stop-loss level', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 50);
    h.signals.set(symbol, 'SELL', 0.7);
    await h.startSymbol(symbol);
    const pos = await openedPosition(h, symbol);
    expect(pos.side).toBe('SHORT');
    h.signals.set(symbol, 'HOLD', 0.9);
    const stop = pos.state.stopPrice!;
    expect(stop).toBeCloseTo(pos.state.entryPrice * 1.01, 2);
    // Jump through the stop: the exchange's algo order fires on mark price without the workflow.
    await h.setPrice(symbol, Number((stop * 1.002).toFixed(3)));
    const result = await pos.handle.result();
    expect(result.exitReason).toBe('STOP_LOSS');
    const row = await expectJournalMatchesExchange(pos.positionId, symbol);
    expect(row.exitPrice!).toBeGreaterThanOrEqual(stop);
    expect(row.netPnl!).toBeLessThan(0);
    await captureHistory(pos.handle.workflowId, 'position-exchange-stop');
  });

  it('books a position closed outside the agent and cancels its protective stop', async () => {
    const symbol = uniqueSymbol();
    await h.setPrice(symbol, 70);
    h.signals.set(symbol, 'BUY', 0.8);
    await h.startSymbol(symbol);
    const pos = await openedPosition(h, symbol);
    h.signals.set(symbol, 'HOLD', 0.9);
    // Someone closes it by hand on the venue.
    await h.exchange.placeMarketOrder({ symbol, side: 'SELL', quantity: pos.state.quantity, reduceOnly: true, clientOrderId: `manual-${symbol}` });
    const result = await pos.handle.result();
    expect(result.exitReason).toBe('CLOSED_EXTERNALLY');
    expect((await h.journal.getPosition(pos.positionId))?.exitReason).toBe('CLOSED_EXTERNALLY');
    expect((await h.exchange.getAlgoOrder(symbol, `${pos.orderIdStem}-S`))?.status).toBe('CANCELED');
    expect((await h.symbolState(symbol)).openPositionId).toBeNull();
  });
});
