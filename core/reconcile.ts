import { positionIdOfStop } from './position-ids.js';
import type { PositionSide } from './types.js';

/**
 * Reconciliation: the exchange (positions, open algo orders) against the running workflows and the
 * journal. Pure planning: what to do is decided from two observations taken a while apart, and only
 * what both agree on is acted on, so a position being entered right now (its workflow starts before
 * its order; visibility lags by a moment) is never mistaken for an orphan.
 */
export interface Observation {
  at: number;
  /** Non-zero exchange positions (one-way mode: one per symbol). */
  exposures: { symbol: string; positionAmt: number; entryPrice: number; markPrice: number }[];
  /** Open conditional (algo) orders. */
  stops: { symbol: string; clientAlgoId: string }[];
  /** Running position workflows. */
  owners: { positionId: string; symbol: string }[];
  /** Running symbol loops and the position each believes it has. */
  loops: { symbol: string; openPositionId: string | null }[];
  /** OPEN journal rows; null when the journal could not be read. */
  journalOpen: { positionId: string; symbol: string; side: PositionSide }[] | null;
  /** Risk-book reservations; null when the book could not be read. */
  reservations: { positionId: string; symbol: string }[] | null;
  /** The global kill switch asks for flattening: orphans are flattened whatever the policy. */
  killFlatten: boolean;
}

export type OrphanPolicy = 'adopt' | 'flatten';

export type ReconcileAction =
  /** Start a position workflow in adoption mode (no symbol loop runs for the symbol). */
  | { kind: 'ADOPT'; symbol: string; positionAmt: number; entryPrice: number; markPrice: number }
  /** Close the exposure with a reduce-only MARKET order. */
  | { kind: 'FLATTEN'; symbol: string; positionAmt: number }
  /** Tell the symbol loop its position is gone or unowned: it re-reads ownership and adopts. */
  | { kind: 'RECLAIM'; symbol: string; stalePositionId: string | null }
  | { kind: 'CANCEL_STOP'; symbol: string; clientAlgoId: string }
  /** Settle an OPEN journal row whose workflow is gone: from its fills (FLAT) or as handed to a new owner. */
  | { kind: 'SETTLE_ROW'; symbol: string; positionId: string; side: PositionSide; mode: 'FLAT' | 'TRANSFERRED' }
  | { kind: 'RELEASE'; symbol: string; positionId: string }
  /** Count owned exposure that holds no reservation (opened before reservations existed, or adopted). */
  | { kind: 'RESERVE'; symbol: string; positionId: string; notional: number };

export interface ReconcilePlan {
  /** Seen in both observations: act. */
  actions: ReconcileAction[];
  /** Seen only in the second: reported, acted on if the next pass confirms it. */
  suspects: ReconcileAction[];
}

/** Identity of an action: the same finding in two observations has the same key. */
export function actionKey(a: ReconcileAction): string {
  switch (a.kind) {
    case 'ADOPT':
    case 'FLATTEN':
      return `ORPHAN:${a.symbol}:${a.positionAmt}`;
    case 'RECLAIM':
      return `RECLAIM:${a.symbol}:${a.stalePositionId ?? '-'}`;
    case 'CANCEL_STOP':
      return `STOP:${a.symbol}:${a.clientAlgoId}`;
    case 'SETTLE_ROW':
      return `ROW:${a.positionId}:${a.mode}`;
    case 'RELEASE':
      return `RELEASE:${a.positionId}`;
    case 'RESERVE':
      return `RESERVE:${a.positionId}`;
  }
}

/** Everything one observation alone says should be done. */
export function findings(o: Observation, policy: OrphanPolicy): ReconcileAction[] {
  const out: ReconcileAction[] = [];
  const ownerIds = new Set(o.owners.map((w) => w.positionId));
  const ownedSymbols = new Set(o.owners.map((w) => w.symbol));
  const exposure = new Map(o.exposures.map((e) => [e.symbol, e]));
  const loops = new Map(o.loops.map((l) => [l.symbol, l]));
  const reclaimed = new Set<string>();

  for (const e of o.exposures) {
    if (ownedSymbols.has(e.symbol)) continue;
    const loop = loops.get(e.symbol);
    if (policy === 'flatten' || o.killFlatten) out.push({ kind: 'FLATTEN', symbol: e.symbol, positionAmt: e.positionAmt });
    else if (!loop) out.push({ kind: 'ADOPT', symbol: e.symbol, positionAmt: e.positionAmt, entryPrice: e.entryPrice, markPrice: e.markPrice });
    if (loop) {
      out.push({ kind: 'RECLAIM', symbol: e.symbol, stalePositionId: loop.openPositionId });
      reclaimed.add(e.symbol);
    }
  }
  // A loop that believes in a position whose workflow is gone would stay IN_POSITION forever.
  for (const l of o.loops) {
    if (l.openPositionId && !ownerIds.has(l.openPositionId) && !reclaimed.has(l.symbol)) {
      out.push({ kind: 'RECLAIM', symbol: l.symbol, stalePositionId: l.openPositionId });
    }
  }

  for (const s of o.stops) {
    const owner = positionIdOfStop(s.symbol, s.clientAlgoId);
    const e = exposure.get(s.symbol);
    const ownerGone = owner === null || !ownerIds.has(owner);
    // A stop with no position closes the next one; a dead owner's stop beside a live owner's is a
    // second, stale guard. A stop beside exposure nobody owns yet still protects it: keep it.
    const flatAndUnowned = !e && !ownedSymbols.has(s.symbol);
    const leftOverBesideOwner = ownerGone && owner !== null && ownedSymbols.has(s.symbol);
    if (flatAndUnowned || leftOverBesideOwner) out.push({ kind: 'CANCEL_STOP', symbol: s.symbol, clientAlgoId: s.clientAlgoId });
  }

  for (const row of o.journalOpen ?? []) {
    if (ownerIds.has(row.positionId)) continue;
    if (!exposure.has(row.symbol)) out.push({ kind: 'SETTLE_ROW', symbol: row.symbol, positionId: row.positionId, side: row.side, mode: 'FLAT' });
    else if (ownedSymbols.has(row.symbol)) out.push({ kind: 'SETTLE_ROW', symbol: row.symbol, positionId: row.positionId, side: row.side, mode: 'TRANSFERRED' });
    // Exposure nobody owns: adopted first, the row is settled on a later pass.
  }

  if (o.reservations) {
    const reserved = new Set(o.reservations.map((r) => r.positionId));
    for (const r of o.reservations) if (!ownerIds.has(r.positionId)) out.push({ kind: 'RELEASE', symbol: r.symbol, positionId: r.positionId });
    for (const w of o.owners) {
      const e = exposure.get(w.symbol);
      if (e && !reserved.has(w.positionId)) out.push({ kind: 'RESERVE', symbol: w.symbol, positionId: w.positionId, notional: Math.abs(e.positionAmt) * e.markPrice });
    }
  }
  return out;
}

/** Act on what both observations agree on; report the rest as suspects. */
export function planReconciliation(first: Observation, second: Observation, policy: OrphanPolicy): ReconcilePlan {
  const before = new Set(findings(first, policy).map(actionKey));
  const plan: ReconcilePlan = { actions: [], suspects: [] };
  for (const a of findings(second, policy)) (before.has(actionKey(a)) ? plan.actions : plan.suspects).push(a);
  // Flatten orphans before telling their loop, so the loop's own ownership check finds them flat.
  plan.actions.sort((a, b) => order(a) - order(b));
  return plan;
}

const ORDER: Record<ReconcileAction['kind'], number> = { FLATTEN: 0, ADOPT: 1, CANCEL_STOP: 2, RECLAIM: 3, SETTLE_ROW: 4, RESERVE: 5, RELEASE: 6 };
const order = (a: ReconcileAction): number => ORDER[a.kind];

/** One line per action, for logs, risk events and `qt reconcile`. */
export function describeAction(a: ReconcileAction): string {
  switch (a.kind) {
    case 'ADOPT':
      return `${a.symbol}: exposure ${a.positionAmt} @ ${a.entryPrice} has no owner; adopting it`;
    case 'FLATTEN':
      return `${a.symbol}: exposure ${a.positionAmt} has no owner; flattening it`;
    case 'RECLAIM':
      return a.stalePositionId ? `${a.symbol}: loop's position ${a.stalePositionId} has no running workflow; loop re-reads ownership` : `${a.symbol}: exposure without owner; loop adopts it`;
    case 'CANCEL_STOP':
      return `${a.symbol}: stop ${a.clientAlgoId} guards no owned position; cancelling it`;
    case 'SETTLE_ROW':
      return a.mode === 'FLAT' ? `${a.positionId}: OPEN in the journal, flat on the exchange, no workflow; settling from its fills` : `${a.positionId}: OPEN in the journal, its exposure has a new owner; closing the row as transferred`;
    case 'RELEASE':
      return `${a.positionId}: reservation without a live position; releasing it`;
    case 'RESERVE':
      return `${a.positionId}: owned exposure ${a.notional.toFixed(2)} holds no reservation; counting it`;
  }
}
