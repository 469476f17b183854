import type { Fill } from '../exchange/types.js';

export interface FillSummary {
  quantity: number;
  avgPrice: number;
  fee: number;
  realizedPnl: number;
}

/** Volume-weighted price, total commission and realized P&L of an order's fills. */
export function summarizeFills(fills: Fill[]): FillSummary {
  let qty = 0;
  let quote = 0;
  let fee = 0;
  let pnl = 0;
  for (const f of fills) {
    qty += f.qty;
    quote += f.price * f.qty;
    fee += f.commission;
    pnl += f.realizedPnl;
  }
  return { quantity: qty, avgPrice: qty > 0 ? quote / qty : 0, fee, realizedPnl: pnl };
}
