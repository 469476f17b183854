import { describe, expect, it } from 'vitest';
import { checkInvariants, parseClientId, persistent, pnlFigures, type Snapshot } from './invariants.js';

/** A consistent book: one closed round trip on BTC, one open ETH long with its owner and stop. */
function cleanSnapshot(): Snapshot {
  return {
    exchange: {
      orders: [
        { orderId: 1, symbol: 'BTCUSDT', clientOrderId: 'qt-aa11-1-E', side: 'BUY', status: 'FILLED', origQty: 0.002, executedQty: 0.002 },
        { orderId: 2, symbol: 'BTCUSDT', clientOrderId: 'algo-1', side: 'SELL', status: 'FILLED', origQty: 0.002, executedQty: 0.002 },
        { orderId: 3, symbol: 'ETHUSDT', clientOrderId: 'qt-bb22-1-E', side: 'BUY', status: 'FILLED', origQty: 0.05, executedQty: 0.05 },
      ],
      algoOrders: [
        { clientAlgoId: 'qt-aa11-1-S', symbol: 'BTCUSDT', side: 'SELL', orderType: 'STOP_MARKET', status: 'FINISHED', actualOrderId: 2 },
        { clientAlgoId: 'qt-bb22-1-S', symbol: 'ETHUSDT', side: 'SELL', orderType: 'STOP_MARKET', status: 'NEW', actualOrderId: null },
      ],
      fills: [
        { id: 1, orderId: 1, symbol: 'BTCUSDT', side: 'BUY', qty: 0.002, commission: 0.1, realizedPnl: 0 },
        { id: 2, orderId: 2, symbol: 'BTCUSDT', side: 'SELL', qty: 0.002, commission: 0.1, realizedPnl: -2 },
        { id: 3, orderId: 3, symbol: 'ETHUSDT', side: 'BUY', qty: 0.05, commission: 0.08, realizedPnl: 0 },
      ],
      positions: { BTCUSDT: 0, ETHUSDT: 0.05 },
    },
    workflows: [
      { workflowId: 'qt-symbol-BTCUSDT', type: 'symbolWorkflow', status: 'RUNNING' },
      { workflowId: 'qt-position-BTCUSDT-aa11-1', type: 'positionWorkflow', status: 'COMPLETED' },
      { workflowId: 'qt-position-ETHUSDT-bb22-1', type: 'positionWorkflow', status: 'RUNNING' },
    ],
    owners: [{ workflowId: 'qt-position-ETHUSDT-bb22-1', symbol: 'ETHUSDT', stage: 'OPEN', quantity: 0.05 }],
    journal: {
      positions: [
        { positionId: 'BTCUSDT-aa11-1', symbol: 'BTCUSDT', status: 'CLOSED', quantity: 0.002, entryFee: 0.1, netPnl: -2.2 },
        { positionId: 'ETHUSDT-bb22-1', symbol: 'ETHUSDT', status: 'OPEN', quantity: 0.05, entryFee: 0.08, netPnl: null },
      ],
      fills: [
        { symbol: 'BTCUSDT', tradeId: 1, clientOrderId: 'qt-aa11-1-E' },
        { symbol: 'BTCUSDT', tradeId: 2, clientOrderId: 'qt-aa11-1-S' },
        { symbol: 'ETHUSDT', tradeId: 3, clientOrderId: 'qt-bb22-1-E' },
      ],
      lostRecords: [],
    },
  };
}

const counts = (s: Snapshot) => Object.fromEntries(checkInvariants(s).map((r) => [r.name, r.violations.length]));
const failing = (s: Snapshot) => checkInvariants(s).filter((r) => r.violations.length > 0);

describe('chaos invariants', () => {
  it('find nothing wrong in a consistent book', () => {
    expect(failing(cleanSnapshot())).toEqual([]);
    expect(pnlFigures(cleanSnapshot()).journal).toBeCloseTo(-2.28, 10);
  });

  it('read the client id scheme', () => {
    expect(parseClientId('qt-3f2a9c1d-12-X2')).toEqual({ stem: 'qt-3f2a9c1d-12', role: 'X', attempt: 2 });
    expect(parseClientId('algo-7')).toBeNull();
  });

  const order = (orderId: number, clientOrderId: string, origQty: number, executedQty: number, symbol = 'ETHUSDT') => ({
    orderId,
    symbol,
    clientOrderId,
    side: clientOrderId.includes('-E') ? 'BUY' : 'SELL',
    status: executedQty === origQty ? 'FILLED' : 'EXPIRED',
    origQty,
    executedQty,
  });
  const duplicates = (s: Snapshot) => checkInvariants(s).find((r) => r.name === 'duplicate orders per decision')!.violations.map((v) => v.evidence);

  it('catch an entry sent again under the same client id (a blind resend)', () => {
    const s = cleanSnapshot();
    s.exchange.orders.push(order(9, 'qt-bb22-1-E', 0.05, 0.05));
    expect(duplicates(s)).toEqual([
      'qt-bb22-1-E executed 2 times (exchange order ids 3, 9)',
      'qt-bb22-1: entries filled 0.1 for a decision of 0.05 (exchange order ids 3, 9)',
    ]);
  });

  it('allow several entry sends of one decision while only one executes, not two that fill', () => {
    const s = cleanSnapshot();
    s.exchange.orders = s.exchange.orders.filter((o) => o.orderId !== 3);
    s.exchange.orders.push(order(3, 'qt-bb22-1-E1', 0.05, 0), order(4, 'qt-bb22-1-E2', 0.05, 0.05));
    expect(duplicates(s)).toEqual([]);
    s.exchange.orders.push(order(5, 'qt-bb22-1-E3', 0.05, 0.02));
    expect(duplicates(s)).toEqual(['qt-bb22-1: entries filled 0.07 for a decision of 0.05 (exchange order ids 4, 5)']);
  });

  it('allow exits resent after one expired, not exits beyond the position (stop fills count)', () => {
    const s = cleanSnapshot();
    s.exchange.orders.push(order(10, 'qt-bb22-1-X1', 0.05, 0.01), order(11, 'qt-bb22-1-X2', 0.04, 0.04));
    expect(duplicates(s)).toEqual([]);
    s.exchange.orders.push(order(12, 'qt-aa11-1-X1', 0.002, 0.002, 'BTCUSDT'));
    expect(duplicates(s)).toEqual(['qt-aa11-1: exits filled 0.004 for entries of 0.002']);
  });

  it('catch fills missing from, doubled in or invented by the journal', () => {
    const s = cleanSnapshot();
    s.journal.fills = s.journal.fills.filter((f) => f.tradeId !== 2);
    expect(checkInvariants(s).find((r) => r.name === 'exchange fills missing from the journal')!.violations[0]!.evidence).toBe(
      'BTCUSDT trade 2: SELL 0.002 of order 2 (algo-1 = stop qt-aa11-1-S)',
    );
    const t = cleanSnapshot();
    t.journal.fills.push({ symbol: 'BTCUSDT', tradeId: 1, clientOrderId: 'qt-aa11-1-E' }, { symbol: 'SOLUSDT', tradeId: 77, clientOrderId: 'qt-cc-1-E' });
    expect(counts(t)['journal fills doubled or not on the exchange']).toBe(2);
  });

  it('catch an exposure with no owner, two owners, no stop or a wrong-side stop', () => {
    const s = cleanSnapshot();
    s.owners = [];
    expect(counts(s)['exchange positions without exactly one running owner']).toBe(1);
    s.owners = [cleanSnapshot().owners[0]!, { workflowId: 'qt-position-ETHUSDT-dd44-1', symbol: 'ETHUSDT', stage: 'OPEN', quantity: 0.05 }];
    expect(counts(s)['exchange positions without exactly one running owner']).toBe(1);
    const t = cleanSnapshot();
    t.exchange.algoOrders[1]!.side = 'BUY';
    expect(counts(t)['exchange positions without exactly one protective stop']).toBe(1);
    t.exchange.algoOrders[1]!.side = 'SELL';
    t.exchange.algoOrders[1]!.status = 'CANCELED';
    expect(counts(t)['exchange positions without exactly one protective stop']).toBe(1);
  });

  it("catch an owner whose quantity differs from the exchange's", () => {
    const s = cleanSnapshot();
    s.exchange.positions.ETHUSDT = 0.1;
    expect(counts(s)["exchange quantity different from its owner's"]).toBe(1);
  });

  it('catch an OPEN journal row on a flat symbol, failed workflows and a P&L off by a cent', () => {
    const s = cleanSnapshot();
    s.exchange.positions.ETHUSDT = 0;
    s.workflows.push({ workflowId: 'qt-symbol-ETHUSDT', type: 'symbolWorkflow', status: 'FAILED', failure: 'Activity task failed' });
    s.journal.positions[0]!.netPnl = -2.21;
    const c = counts(s);
    expect(c['journal positions OPEN with no exchange position']).toBe(1);
    expect(c['failed or terminated workflows']).toBe(1);
    expect(c['journal net P&L = exchange realized P&L - fees (to the cent)']).toBe(1);
    s.journal.positions[0]!.netPnl = -2.2049;
    expect(counts(s)['journal net P&L = exchange realized P&L - fees (to the cent)']).toBe(0);
    s.journal.lostRecords.push({ kind: 'DECISIONS_DROPPED', symbol: 'ETHUSDT', detail: '{"count": 3}' });
    expect(counts(s)['decisions the journal dropped or refused']).toBe(1);
  });

  it('keep only violations present in every snapshot', () => {
    const transient = cleanSnapshot();
    transient.exchange.positions.ETHUSDT = 0;
    const real = cleanSnapshot();
    real.owners = [];
    const both = cleanSnapshot();
    both.owners = [];
    both.exchange.positions.BTCUSDT = 0.002;
    const kept = persistent([checkInvariants(transient), checkInvariants(real), checkInvariants(both)]);
    expect(kept.flatMap((r) => r.violations.map((v) => v.key))).toEqual([]);
    const kept2 = persistent([checkInvariants(real), checkInvariants(both)]);
    expect(kept2.flatMap((r) => r.violations.map((v) => v.key))).toEqual(['owners:ETHUSDT']);
  });
});
