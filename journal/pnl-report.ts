import type pg from 'pg';
import { grossPnl } from '../core/costs.js';
import type { PositionSide } from '../core/types.js';

/** Realized figures of closed positions. */
export interface RealizedPnl {
  trades: number;
  wins: number;
  /** wins / trades, 0 with no trades. */
  winRate: number;
  /** After both fee legs. */
  net: number;
  gross: number;
  fees: number;
}

/** Open positions marked at the last price the journal saw for their symbol (the last signal's price). */
export interface UnrealizedPnl {
  positions: number;
  /** quantity × entry price. */
  notional: number;
  /** Price move × quantity, before fees (the entry fees already paid are in `entryFees`). */
  unrealized: number;
  entryFees: number;
  /** Open positions with no journaled price yet, marked at their entry. */
  unmarked: number;
}

export type PnlGrouping = 'day' | 'symbol';

export interface PnlReport {
  /** Start of the window (positions closed at or after it); null = everything. */
  since: Date | null;
  realized: RealizedPnl;
  open: UnrealizedPnl;
  by: PnlGrouping | null;
  /** Per UTC day of closing (YYYY-MM-DD) or per symbol, in key order; symbol rows carry their open positions. */
  rows: (RealizedPnl & { key: string; open?: UnrealizedPnl })[];
}

const KEY_SQL: Record<PnlGrouping | 'all', string> = {
  all: `'all'`,
  day: `to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  symbol: 'symbol',
};

interface RealizedRow {
  key: string;
  trades: number;
  wins: number;
  net: number;
  gross: number;
  fees: number;
}

const realized = (r: Omit<RealizedRow, 'key'> | undefined): RealizedPnl => {
  const trades = r?.trades ?? 0;
  const wins = r?.wins ?? 0;
  return { trades, wins, winRate: trades ? wins / trades : 0, net: r?.net ?? 0, gross: r?.gross ?? 0, fees: r?.fees ?? 0 };
};

async function realizedBy(pool: pg.Pool, grouping: PnlGrouping | 'all', since: Date | null): Promise<RealizedRow[]> {
  const result = await pool.query<RealizedRow>(
    `SELECT ${KEY_SQL[grouping]} AS key, COUNT(*) AS trades, COUNT(*) FILTER (WHERE net_pnl > 0) AS wins,
       COALESCE(SUM(net_pnl), 0) AS net, COALESCE(SUM(gross_pnl), 0) AS gross,
       COALESCE(SUM(entry_fee + COALESCE(exit_fee, 0)), 0) AS fees
     FROM positions WHERE status = 'CLOSED' AND ($1::timestamptz IS NULL OR closed_at >= $1)
     GROUP BY 1 ORDER BY 1`,
    [since],
  );
  return result.rows;
}

interface OpenRow {
  symbol: string;
  side: PositionSide;
  quantity: number;
  entryPrice: number;
  entryFee: number;
  mark: number | null;
}

async function openPositionsMarked(pool: pg.Pool): Promise<OpenRow[]> {
  const result = await pool.query<OpenRow>(
    `SELECT p.symbol, p.side, p.quantity, p.entry_price AS "entryPrice", p.entry_fee AS "entryFee", s.price AS mark
     FROM positions p
     LEFT JOIN LATERAL (SELECT price FROM signals WHERE symbol = p.symbol ORDER BY at DESC, id DESC LIMIT 1) s ON true
     WHERE p.status = 'OPEN'`,
  );
  return result.rows;
}

function unrealized(rows: OpenRow[]): UnrealizedPnl {
  const out: UnrealizedPnl = { positions: rows.length, notional: 0, unrealized: 0, entryFees: 0, unmarked: 0 };
  for (const r of rows) {
    out.notional += r.quantity * r.entryPrice;
    out.entryFees += r.entryFee;
    if (r.mark === null) out.unmarked++;
    else out.unrealized += grossPnl(r.side, r.entryPrice, r.mark, r.quantity);
  }
  return out;
}

/** The P&L of the journal: realized in the window (optionally per day or symbol) and the open positions now. */
export async function pnlReport(pool: pg.Pool, query: { since?: Date | null; by?: PnlGrouping | null } = {}): Promise<PnlReport> {
  const since = query.since ?? null;
  const by = query.by ?? null;
  const [total, grouped, open] = await Promise.all([
    realizedBy(pool, 'all', since),
    by ? realizedBy(pool, by, since) : Promise.resolve([]),
    openPositionsMarked(pool),
  ]);
  const rows: PnlReport['rows'] = grouped.map((r) => ({ key: r.key, ...realized(r) }));
  if (by === 'symbol') {
    const openSymbols = [...new Set(open.map((o) => o.symbol))];
    for (const symbol of openSymbols) if (!rows.some((r) => r.key === symbol)) rows.push({ key: symbol, ...realized(undefined) });
    rows.sort((a, b) => a.key.localeCompare(b.key));
    for (const row of rows) row.open = unrealized(open.filter((o) => o.symbol === row.key));
  }
  return { since, realized: realized(total[0]), open: unrealized(open), by, rows };
}
