import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { positionStateQuery } from '../workflows/contracts.js';
import type { ExchangeAlgoOrder, ExchangeFill, ExchangeOrder, JournalFill, JournalPosition, PositionOwner, Snapshot, WorkflowRow } from './invariants.js';
import type { ProcessStack } from './stack.js';

/** Reads the snapshot the invariants are checked on, each part from its own source of truth. */

/** /admin/state in Binance's wire format (numbers as strings). */
interface AdminState {
  orders: Record<string, unknown>[];
  algoOrders: Record<string, unknown>[];
  fills: Record<string, unknown>[];
  account: { positions: Record<string, unknown>[] };
  heldResponses: number;
}

const str = (v: unknown): string => String(v ?? '');
const num = (v: unknown): number => Number(v ?? 0);

export async function exchangeRecords(stack: ProcessStack): Promise<Snapshot['exchange'] & { heldResponses: number }> {
  const s = await stack.admin<AdminState>('GET', '/admin/state');
  const orders: ExchangeOrder[] = s.orders.map((o) => ({
    orderId: num(o.orderId),
    symbol: str(o.symbol),
    clientOrderId: str(o.clientOrderId),
    side: str(o.side),
    status: str(o.status),
    origQty: num(o.origQty),
    executedQty: num(o.executedQty),
  }));
  const algoOrders: ExchangeAlgoOrder[] = s.algoOrders.map((a) => ({
    clientAlgoId: str(a.clientAlgoId),
    symbol: str(a.symbol),
    side: str(a.side),
    orderType: str(a.orderType),
    status: str(a.algoStatus),
    actualOrderId: a.actualOrderId ? num(a.actualOrderId) : null,
  }));
  const fills: ExchangeFill[] = s.fills.map((f) => ({
    id: num(f.id),
    orderId: num(f.orderId),
    symbol: str(f.symbol),
    side: str(f.side),
    qty: num(f.qty),
    commission: num(f.commission),
    realizedPnl: num(f.realizedPnl),
  }));
  const positions = Object.fromEntries(s.account.positions.map((p) => [str(p.symbol), num(p.positionAmt)]));
  return { orders, algoOrders, fills, positions, heldResponses: s.heldResponses };
}

const POSITION_ID = /^qt-position-([A-Z0-9]+)-/;

/** Every workflow the server knows (closed ones with their failure), and the running position workflows. */
export async function temporalRecords(client: Client): Promise<{ workflows: WorkflowRow[]; owners: PositionOwner[] }> {
  const workflows: WorkflowRow[] = [];
  for await (const wf of client.workflow.list()) {
    workflows.push({ workflowId: wf.workflowId, type: wf.type, status: wf.status.name, ...(await failureOf(client, wf.workflowId, wf.runId, wf.status.name)) });
  }
  const running = workflows.filter((w) => w.type === 'positionWorkflow' && w.status === 'RUNNING');
  const owners = await Promise.all(running.map((w) => ownerOf(client, w.workflowId)));
  return { workflows, owners };
}

async function failureOf(client: Client, workflowId: string, runId: string, status: string): Promise<{ failure?: string }> {
  if (!['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED'].includes(status)) return {};
  try {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const last = history.events?.[history.events.length - 1];
    const failure = last?.workflowExecutionFailedEventAttributes?.failure;
    const text = failure ? [failure.message, failure.cause?.message, failure.cause?.cause?.message].filter(Boolean).join(' <- ') : (last?.workflowExecutionTerminatedEventAttributes?.reason ?? undefined);
    return text ? { failure: text } : {};
  } catch {
    return {};
  }
}

async function ownerOf(client: Client, workflowId: string): Promise<PositionOwner> {
  const fallback = POSITION_ID.exec(workflowId)?.[1] ?? '?';
  try {
    const p = await withTimeout(client.workflow.getHandle(workflowId).query(positionStateQuery), 10_000);
    return { workflowId, symbol: p.symbol ?? fallback, stage: p.state?.stage ?? null, quantity: typeof p.state?.quantity === 'number' ? p.state.quantity : null };
  } catch {
    return { workflowId, symbol: fallback, stage: null, quantity: null };
  }
}

export async function journalRecords(pool: pg.Pool): Promise<Snapshot['journal']> {
  const positions = await pool.query<JournalPosition>(
    `SELECT position_id AS "positionId", symbol, status, quantity::float8 AS quantity, entry_fee::float8 AS "entryFee", net_pnl::float8 AS "netPnl" FROM positions`,
  );
  const fills = await pool.query<JournalFill>(`SELECT symbol, trade_id::float8 AS "tradeId", client_order_id AS "clientOrderId" FROM fills`);
  const lost = await pool.query<Snapshot['journal']['lostRecords'][number]>(
    `SELECT kind, symbol, detail::text AS detail FROM risk_events WHERE kind IN ('DECISIONS_DROPPED', 'SIGNAL_KEY_COLLISION') ORDER BY id`,
  );
  return { positions: positions.rows, fills: fills.rows, lostRecords: lost.rows };
}

export async function takeSnapshot(stack: ProcessStack, client: Client, pool: pg.Pool): Promise<Snapshot & { heldResponses: number }> {
  // Temporal first: an owner that finishes meanwhile shows as a flat exchange, never as a missing owner.
  const { workflows, owners } = await temporalRecords(client);
  const { heldResponses, ...exchange } = await exchangeRecords(stack);
  const journal = await journalRecords(pool);
  return { exchange, workflows, owners, journal, heldResponses };
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
