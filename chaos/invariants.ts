/**
 * The invariants a chaos run checks at its end, as pure functions over one snapshot of the exchange's own
 * records (/admin/state), Temporal (every workflow, the running position workflows) and the journal.
 */

export interface ExchangeOrder {
  orderId: number;
  symbol: string;
  clientOrderId: string;
  side: string;
  status: string;
  origQty: number;
  executedQty: number;
}

export interface ExchangeAlgoOrder {
  clientAlgoId: string;
  symbol: string;
  side: string;
  orderType: string;
  status: string;
  actualOrderId: number | null;
}

export interface ExchangeFill {
  id: number;
  orderId: number;
  symbol: string;
  side: string;
  qty: number;
  commission: number;
  realizedPnl: number;
}

export interface WorkflowRow {
  workflowId: string;
  type: string;
  status: string;
  /** Failure message of a failed run, when known. */
  failure?: string;
}

/** A running position workflow: the owner of its symbol's exchange position. */
export interface PositionOwner {
  workflowId: string;
  symbol: string;
  /** From the workflow's state query; null when it did not answer. */
  stage: string | null;
  quantity: number | null;
}

export interface JournalPosition {
  positionId: string;
  symbol: string;
  status: string;
  quantity: number;
  entryFee: number;
  netPnl: number | null;
}

export interface JournalFill {
  symbol: string;
  tradeId: number;
  clientOrderId: string;
}

export interface Snapshot {
  exchange: {
    orders: ExchangeOrder[];
    algoOrders: ExchangeAlgoOrder[];
    fills: ExchangeFill[];
    /** Signed position amount per symbol (one-way mode); zero or absent when flat. */
    positions: Record<string, number>;
  };
  workflows: WorkflowRow[];
  owners: PositionOwner[];
  journal: {
    positions: JournalPosition[];
    fills: JournalFill[];
    /** Risk events that say a record was dropped or refused (DECISIONS_DROPPED, SIGNAL_KEY_COLLISION). */
    lostRecords: { kind: string; symbol: string | null; detail: string }[];
  };
}

export interface Violation {
  /** Identifies the violation across snapshots (a transient one disappears in the next). */
  key: string;
  evidence: string;
}

export interface InvariantResult {
  name: string;
  violations: Violation[];
}

/** Order and algo ids are `qt-<instance>-<n>-<role><attempt>`: E entry, S protective stop, X exit, R reduction. */
const CLIENT_ID = /^(qt-[0-9a-zA-Z]+-\d+)-([A-Z]+)(\d*)$/;

export function parseClientId(id: string): { stem: string; role: string; attempt: number } | null {
  const m = CLIENT_ID.exec(id);
  return m ? { stem: m[1]!, role: m[2]!, attempt: m[3] ? Number(m[3]) : 0 } : null;
}

/** The journal must agree with the exchange to the cent: less than half a cent apart. */
export const PNL_TOLERANCE = 0.005;
const QTY_EPSILON = 1e-9;

const FAILED_STATUSES = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED']);

export function checkInvariants(s: Snapshot): InvariantResult[] {
  return [
    { name: 'duplicate orders per decision', violations: duplicateOrders(s) },
    { name: 'exchange fills missing from the journal', violations: missingFills(s) },
    { name: 'journal fills doubled or not on the exchange', violations: extraFills(s) },
    { name: 'exchange positions without exactly one running owner', violations: ownerless(s) },
    { name: 'exchange positions without exactly one protective stop', violations: unprotected(s) },
    { name: "exchange quantity different from its owner's", violations: quantityMismatch(s) },
    { name: 'journal positions OPEN with no exchange position', violations: openWithoutExposure(s) },
    { name: 'failed or terminated workflows', violations: failedWorkflows(s) },
    { name: 'journal net P&L = exchange realized P&L - fees (to the cent)', violations: pnlMismatch(s) },
    { name: 'decisions the journal dropped or refused', violations: lostRecords(s) },
  ];
}

/**
 * One entry decision (a client-id stem) must reach the exchange as one position, however often its orders
 * were retried: no client id executed twice, entry fills never beyond the decided quantity (several sends
 * are fine while earlier ones did not execute), and exit fills never beyond what the entries bought.
 */
function duplicateOrders(s: Snapshot): Violation[] {
  const out: Violation[] = [];
  const byClientId = new Map<string, ExchangeOrder[]>();
  const stems = new Map<string, { entryQty: number; decidedQty: number; exitQty: number; entryIds: number[] }>();
  const stem = (name: string) => {
    let x = stems.get(name);
    if (!x) stems.set(name, (x = { entryQty: 0, decidedQty: 0, exitQty: 0, entryIds: [] }));
    return x;
  };
  for (const o of s.exchange.orders) {
    byClientId.set(`${o.symbol}|${o.clientOrderId}`, [...(byClientId.get(`${o.symbol}|${o.clientOrderId}`) ?? []), o]);
    const id = parseClientId(o.clientOrderId);
    if (id?.role === 'E') {
      const x = stem(id.stem);
      x.entryQty += o.executedQty;
      x.decidedQty = Math.max(x.decidedQty, o.origQty);
      if (o.executedQty > 0) x.entryIds.push(o.orderId);
    } else if (id && id.role !== 'S') {
      stem(id.stem).exitQty += o.executedQty;
    }
  }
  // A stop's fill belongs to its position too: the triggered order carries an exchange-made id.
  for (const a of s.exchange.algoOrders) {
    const id = parseClientId(a.clientAlgoId);
    const order = a.actualOrderId === null ? undefined : s.exchange.orders.find((o) => o.orderId === a.actualOrderId && o.symbol === a.symbol);
    if (id && order) stem(id.stem).exitQty += order.executedQty;
  }
  for (const [key, orders] of byClientId) {
    const executed = orders.filter((o) => o.executedQty > 0);
    if (executed.length > 1 && parseClientId(orders[0]!.clientOrderId)) {
      out.push({ key: `reused:${key}`, evidence: `${orders[0]!.clientOrderId} executed ${executed.length} times (exchange order ids ${executed.map((o) => o.orderId).join(', ')})` });
    }
  }
  for (const [name, x] of stems) {
    if (x.entryQty > x.decidedQty * (1 + QTY_EPSILON) + QTY_EPSILON) {
      out.push({ key: `entry:${name}`, evidence: `${name}: entries filled ${round(x.entryQty)} for a decision of ${round(x.decidedQty)} (exchange order ids ${x.entryIds.join(', ')})` });
    }
    if (x.decidedQty > 0 && x.exitQty > x.entryQty * (1 + QTY_EPSILON) + QTY_EPSILON) {
      out.push({ key: `exit:${name}`, evidence: `${name}: exits filled ${round(x.exitQty)} for entries of ${round(x.entryQty)}` });
    }
  }
  return out;
}

const round = (x: number) => Number(x.toPrecision(10));

const fillKey = (symbol: string, tradeId: number) => `${symbol}#${tradeId}`;

function describeFill(s: Snapshot, f: ExchangeFill): string {
  const order = s.exchange.orders.find((o) => o.orderId === f.orderId && o.symbol === f.symbol);
  const algo = s.exchange.algoOrders.find((a) => a.actualOrderId === f.orderId && a.symbol === f.symbol);
  const owner = algo ? `${order?.clientOrderId ?? '?'} = stop ${algo.clientAlgoId}` : (order?.clientOrderId ?? '?');
  return `${f.symbol} trade ${f.id}: ${f.side} ${f.qty} of order ${f.orderId} (${owner})`;
}

function missingFills(s: Snapshot): Violation[] {
  const journaled = new Set(s.journal.fills.map((f) => fillKey(f.symbol, f.tradeId)));
  return s.exchange.fills
    .filter((f) => !journaled.has(fillKey(f.symbol, f.id)))
    .map((f) => ({ key: `missing:${fillKey(f.symbol, f.id)}`, evidence: describeFill(s, f) }));
}

function extraFills(s: Snapshot): Violation[] {
  const onExchange = new Set(s.exchange.fills.map((f) => fillKey(f.symbol, f.id)));
  const seen = new Map<string, number>();
  for (const f of s.journal.fills) seen.set(fillKey(f.symbol, f.tradeId), (seen.get(fillKey(f.symbol, f.tradeId)) ?? 0) + 1);
  const out: Violation[] = [];
  for (const [key, n] of seen) {
    if (n > 1) out.push({ key: `doubled:${key}`, evidence: `${key} journaled ${n} times` });
    if (!onExchange.has(key)) out.push({ key: `phantom:${key}`, evidence: `${key} is in the journal but not on the exchange` });
  }
  return out;
}

const exposures = (s: Snapshot) => Object.entries(s.exchange.positions).filter(([, amt]) => Math.abs(amt) > QTY_EPSILON);

function ownerless(s: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const [symbol, amt] of exposures(s)) {
    const owners = s.owners.filter((o) => o.symbol === symbol);
    if (owners.length !== 1) {
      out.push({ key: `owners:${symbol}`, evidence: `${symbol} ${amt} on the exchange, ${owners.length} running position workflows${owners.length ? `: ${owners.map((o) => o.workflowId).join(', ')}` : ''}` });
    }
  }
  return out;
}

function unprotected(s: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const [symbol, amt] of exposures(s)) {
    const closingSide = amt > 0 ? 'SELL' : 'BUY';
    const stops = s.exchange.algoOrders.filter((a) => a.symbol === symbol && a.status === 'NEW' && a.orderType === 'STOP_MARKET' && a.side === closingSide);
    if (stops.length !== 1) out.push({ key: `stops:${symbol}`, evidence: `${symbol} ${amt} on the exchange, ${stops.length} open ${closingSide} stops${stops.length ? `: ${stops.map((a) => a.clientAlgoId).join(', ')}` : ''}` });
  }
  return out;
}

function quantityMismatch(s: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const [symbol, amt] of exposures(s)) {
    const owners = s.owners.filter((o) => o.symbol === symbol);
    const q = owners.length === 1 ? owners[0]!.quantity : null;
    if (q !== null && Math.abs(q - Math.abs(amt)) > QTY_EPSILON) {
      out.push({ key: `quantity:${symbol}`, evidence: `${symbol}: exchange ${Math.abs(amt)}, ${owners[0]!.workflowId} holds ${q}` });
    }
  }
  return out;
}

function openWithoutExposure(s: Snapshot): Violation[] {
  return s.journal.positions
    .filter((p) => p.status === 'OPEN' && Math.abs(s.exchange.positions[p.symbol] ?? 0) <= QTY_EPSILON)
    .map((p) => ({ key: `open:${p.positionId}`, evidence: `${p.positionId} OPEN in the journal (qty ${p.quantity}), ${p.symbol} flat on the exchange` }));
}

function failedWorkflows(s: Snapshot): Violation[] {
  return s.workflows
    .filter((w) => FAILED_STATUSES.has(w.status))
    .map((w) => ({ key: `workflow:${w.workflowId}:${w.status}`, evidence: `${w.workflowId} (${w.type}) ${w.status}${w.failure ? `: ${w.failure}` : ''}` }));
}

/**
 * Everything the exchange booked (realized P&L minus every fee) against the journal: net P&L of closed
 * positions minus the entry fees of open ones (their realized P&L is still zero on both sides). Funding
 * is outside both (the exchange charges it to the wallet, not to fills).
 */
export function pnlFigures(s: Snapshot): { exchange: number; journal: number } {
  const exchange = s.exchange.fills.reduce((sum, f) => sum + f.realizedPnl - f.commission, 0);
  const journal = s.journal.positions.reduce((sum, p) => sum + (p.status === 'CLOSED' ? (p.netPnl ?? 0) : -p.entryFee), 0);
  return { exchange, journal };
}

function pnlMismatch(s: Snapshot): Violation[] {
  const { exchange, journal } = pnlFigures(s);
  if (Math.abs(exchange - journal) < PNL_TOLERANCE) return [];
  return [{ key: 'pnl', evidence: `journal ${journal.toFixed(4)} vs exchange ${exchange.toFixed(4)} (difference ${(journal - exchange).toFixed(4)})` }];
}

function lostRecords(s: Snapshot): Violation[] {
  return s.journal.lostRecords.map((r, i) => ({ key: `lost:${r.kind}:${r.symbol}:${i}`, evidence: `${r.kind} ${r.symbol ?? ''}: ${r.detail.slice(0, 200)}` }));
}

/**
 * Violations seen in every one of several snapshots taken seconds apart. An exit in progress (flat on the
 * exchange, journal not yet written) shows up in one snapshot only; a real violation stays.
 */
export function persistent(snapshots: InvariantResult[][]): InvariantResult[] {
  const last = snapshots[snapshots.length - 1] ?? [];
  return last.map((result, i) => ({
    name: result.name,
    violations: result.violations.filter((v) => snapshots.every((snap) => snap[i]?.violations.some((w) => w.key === v.key))),
  }));
}
