import { describe, expect, it } from 'vitest';
import type { ArmedExit } from '../core/position-lifecycle.js';
import type { FuturesExchange } from '../exchange/types.js';
import type { ExitWatchRequest } from './contracts.js';
import { sendArmedExit, type ArmedExitClaims } from './stream-exit.js';

const armed: ArmedExit = { clientOrderId: 'qt-ab12cd34-6-X1', quantity: 0.043 };
const req = { symbol: 'ETHUSDT', side: 'SHORT' } as ExitWatchRequest;

function exchange() {
  const sent: { clientOrderId: string; reduceOnly: boolean | undefined; side: string; quantity: number }[] = [];
  const ex = {
    placeMarketOrder: async (o: { clientOrderId: string; reduceOnly?: boolean; side: string; quantity: number }) => {
      sent.push({ clientOrderId: o.clientOrderId, reduceOnly: o.reduceOnly, side: o.side, quantity: o.quantity });
      return {};
    },
  } as unknown as FuturesExchange;
  return { ex, sent };
}

/** One claim store shared by every worker, as the journal is. */
function sharedClaims(): ArmedExitClaims {
  const taken = new Set<string>();
  return { claimArmedExit: async (id) => !taken.has(id) && Boolean(taken.add(id)) };
}

describe('an armed exit sent from the stream', () => {
  it('leaves once across workers: the worker that replaced one that sent it does not send it again', async () => {
    const claims = sharedClaims();
    const first = exchange();
    const second = exchange();
    await sendArmedExit(first.ex, claims, req, armed);
    expect(first.sent).toEqual([{ clientOrderId: armed.clientOrderId, reduceOnly: true, side: 'BUY', quantity: 0.043 }]);
    await expect(sendArmedExit(second.ex, claims, req, armed)).rejects.toThrow(/sent from the stream before/);
    expect(second.sent).toEqual([]);
  });

  it('is not sent when the claim cannot be made (the position sends it itself)', async () => {
    const { ex, sent } = exchange();
    const down: ArmedExitClaims = { claimArmedExit: async () => Promise.reject(new Error('connect ECONNREFUSED')) };
    await expect(sendArmedExit(ex, down, req, armed)).rejects.toThrow('ECONNREFUSED');
    expect(sent).toEqual([]);
  });
});
