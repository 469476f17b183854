import type { PnlReport, UnrealizedPnl } from '../journal/index.js';
import { table } from './format.js';

const money = (x: number) => x.toFixed(2);
const percent = (x: number) => `${(x * 100).toFixed(1)} %`;

function openLine(open: UnrealizedPnl): string {
  if (open.positions === 0) return 'open      none';
  const unmarked = open.unmarked ? ` (${open.unmarked} without a journaled price yet, counted at entry)` : '';
  return `open      ${open.positions} position(s), notional ${money(open.notional)}, unrealized ${money(open.unrealized)} before fees at the last journaled price, entry fees paid ${money(open.entryFees)}${unmarked}`;
}

/** `qt pnl` as text: the window's realized totals, the open book, then one line per day or symbol. */
export function formatPnlReport(r: PnlReport): string {
  const window = r.since ? `positions closed since ${r.since.toISOString().replace('T', ' ').slice(0, 16)} UTC` : 'all closed positions';
  const t = r.realized;
  const out = [
    `P&L of ${window}`,
    `realized  net ${money(t.net)} (gross ${money(t.gross)}, fees ${money(t.fees)}), ${t.trades} trade(s), win rate ${t.trades ? percent(t.winRate) : '-'}`,
    openLine(r.open),
  ];
  if (r.by) {
    out.push('');
    out.push(
      table(
        r.rows.map((row) => ({
          [r.by!]: row.key,
          trades: row.trades,
          win: row.trades ? percent(row.winRate) : null,
          net: money(row.net),
          gross: money(row.gross),
          fees: money(row.fees),
          ...(row.open ? { open: row.open.positions, unrealized: money(row.open.unrealized) } : {}),
        })),
      ),
    );
  }
  return out.join('\n');
}
