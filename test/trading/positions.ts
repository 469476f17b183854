import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { PositionSide } from '../../core/types.js';
import type { FaultConfig } from '../../exchange/sim/faults.js';
import type { PositionLifecycle } from '../../core/position-lifecycle.js';
import { positionStateQuery, positionWorkflowId, type PositionInput, type PositionReport } from '../../workflows/contracts.js';
import { positionWorkflow } from '../../workflows/position.js';
import { TEST_PARAMS, eventually, type Harness } from './harness.js';

/** Position workflows driven directly (no symbol loop), and the exchange's view of them. */

export async function setFaults(h: Harness, faults: FaultConfig): Promise<void> {
  const res = await fetch(`${h.localExchange.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify(faults) });
  if (!res.ok) throw new Error(`admin/faults: ${res.status} ${await res.text()}`);
}

export async function clearFaults(h: Harness): Promise<void> {
  await fetch(`${h.localExchange.baseUrl}/admin/faults`, { method: 'DELETE' });
}

export interface StartedPosition {
  symbol: string;
  positionId: string;
  orderIdStem: string;
  handle: ReturnType<Harness['client']['workflow']['getHandle']>;
  state(): Promise<PositionLifecycle>;
  result(): Promise<PositionReport>;
}

/** Starts a position workflow for `symbol` as a symbol workflow would (its parent need not exist). */
export async function startPosition(h: Harness, symbol: string, opts: { side?: PositionSide; notional?: number; adopt?: PositionInput['adopt']; params?: Partial<PositionInput['params']> } = {}): Promise<StartedPosition> {
  const tag = randomBytes(3).toString('hex');
  const positionId = `${symbol}-${tag}-1`;
  const input: PositionInput = {
    positionId,
    symbol,
    side: opts.side ?? 'LONG',
    notional: opts.notional ?? 100,
    confidence: 0.8,
    parentWorkflowId: `qt-symbol-${symbol}`,
    params: { ...TEST_PARAMS, ...opts.params },
    orderIdStem: `qt-${tag}-1`,
    ...(opts.adopt ? { adopt: opts.adopt } : {}),
  };
  const handle = await h.client.workflow.start(positionWorkflow, { workflowId: positionWorkflowId(positionId), taskQueue: h.taskQueue, args: [input] });
  return {
    symbol,
    positionId,
    orderIdStem: input.orderIdStem,
    handle,
    state: async () => (await handle.query(positionStateQuery)).state as PositionLifecycle,
    result: () => handle.result() as Promise<PositionReport>,
  };
}

export async function reachStage(p: StartedPosition, stage: PositionLifecycle['stage'], timeoutMs = 30_000): Promise<PositionLifecycle> {
  return eventually(async () => {
    const s = await p.state();
    return s.stage === stage ? s : null;
  }, `${p.positionId} to reach ${stage}`, timeoutMs);
}

export interface ExchangeView {
  positionAmt: number;
  orders: { clientOrderId: string; status: string; origQty: number; executedQty: number }[];
  stops: { clientAlgoId: string; algoStatus: string; createTime: number }[];
  fills: { orderId: number; qty: number; price: number; commission: number; realizedPnl: number; time: number }[];
}

/** What the exchange itself holds for a symbol (its admin view, not the client's answers). */
export async function exchangeView(h: Harness, symbol: string): Promise<ExchangeView> {
  const res = await fetch(`${h.localExchange.baseUrl}/admin/state`);
  const raw = (await res.json()) as {
    account: { positions: { symbol: string; positionAmt: string }[] };
    orders: Record<string, string>[];
    algoOrders: Record<string, string>[];
    fills: Record<string, string>[];
  };
  const mine = <T extends Record<string, unknown>>(rows: T[]) => rows.filter((r) => r.symbol === symbol);
  return {
    positionAmt: Number(mine(raw.account.positions)[0]?.positionAmt ?? 0),
    orders: mine(raw.orders).map((o) => ({ clientOrderId: o.clientOrderId!, status: o.status!, origQty: Number(o.origQty), executedQty: Number(o.executedQty) })),
    stops: mine(raw.algoOrders).map((a) => ({ clientAlgoId: a.clientAlgoId!, algoStatus: a.algoStatus!, createTime: Number(a.createTime) })),
    fills: mine(raw.fills).map((f) => ({ orderId: Number(f.orderId), qty: Number(f.qty), price: Number(f.price), commission: Number(f.commission), realizedPnl: Number(f.realizedPnl), time: Number(f.time) })),
  };
}

/** The invariant: whatever the exchange holds on the symbol is this position's, and a stop guards it. */
export async function expectOwnedAndProtected(h: Harness, p: StartedPosition): Promise<void> {
  const [s, ex] = await Promise.all([p.state(), exchangeView(h, p.symbol)]);
  expect(s.stage).not.toBe('CLOSED');
  expect(Math.abs(ex.positionAmt)).toBeCloseTo(s.quantity, 10);
  expect(Math.abs(ex.positionAmt)).toBeGreaterThan(0);
  expect(ex.stops.filter((a) => a.algoStatus === 'NEW').map((a) => a.clientAlgoId)).toEqual([`${p.orderIdStem}-S`]);
}

/** The journal's books of a closed position equal the exchange's: every fill once, P&L = realized - fees. */
export async function expectBooksMatchExchange(h: Harness, p: StartedPosition): Promise<void> {
  const [row, fills, ex] = await Promise.all([h.journal.getPosition(p.positionId), h.journal.fillsForPosition(p.positionId), exchangeView(h, p.symbol)]);
  expect(row?.status).toBe('CLOSED');
  expect(fills.map((f) => f.orderId).sort()).toEqual(ex.fills.map((f) => f.orderId).sort());
  const realized = ex.fills.reduce((a, f) => a + f.realizedPnl, 0);
  const fees = ex.fills.reduce((a, f) => a + f.commission, 0);
  expect(row!.netPnl!).toBeCloseTo(realized - fees, 8);
  expect(row!.exitPrice!).toBeGreaterThan(0);
}
