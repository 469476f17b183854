import { setTimeout as sleep } from 'node:timers/promises';
import { positionWorkflowId } from '../workflows/contracts.js';
import type { LivePosition, TradingActivities } from './contracts.js';
import { keepAlive, type ActivityDeps } from './deps.js';
import { toActivityError } from './idempotent-orders.js';
import { isRunning, positionSide, runningPositions } from './temporal-views.js';

/** Time between the two looks before exposure is called unowned (covers visibility lag and a start in flight). */
export const OWNERSHIP_CONFIRM_MS = 2_000;

/** Which position on a symbol is live, so a loop started again owns it instead of opening a second. */
export function ownershipActivities({ exchange: ex, temporal }: ActivityDeps): Pick<TradingActivities, 'findLivePosition'> {
  async function runningOwner(symbol: string, knownPositionId: string | null): Promise<LivePosition['owner']> {
    let positionId: string | null = null;
    if (knownPositionId && (await isRunning(temporal.client, positionWorkflowId(knownPositionId)))) positionId = knownPositionId;
    positionId ??= (await runningPositions(temporal.client, temporal.taskQueue)).find((p) => p.symbol === symbol)?.positionId ?? null;
    return positionId ? { positionId, side: await positionSide(temporal.client, positionId) } : null;
  }

  async function exposure(symbol: string): Promise<LivePosition['exposure']> {
    try {
      const p = (await ex.positions(symbol)).find((x) => x.symbol === symbol && x.positionAmt !== 0);
      return p ? { positionAmt: p.positionAmt, entryPrice: p.entryPrice, markPrice: p.markPrice } : null;
    } catch (err) {
      throw toActivityError(err);
    }
  }

  return {
    // Heartbeats: a worker killed between the two looks is noticed in seconds, not at the 30 s timeout.
    findLivePosition: ({ symbol, knownPositionId }) => keepAlive(async () => {
      const owner = await runningOwner(symbol, knownPositionId);
      if (owner) return { owner, exposure: null };
      const first = await exposure(symbol);
      if (!first) return { owner: null, exposure: null };
      await sleep(OWNERSHIP_CONFIRM_MS);
      const later = await runningOwner(symbol, knownPositionId);
      if (later) return { owner: later, exposure: null };
      const second = await exposure(symbol);
      if (second && second.positionAmt !== first.positionAmt) throw new Error(`${symbol}: exposure changed from ${first.positionAmt} to ${second.positionAmt} between two looks; not yet consistent`);
      return { owner: null, exposure: second, orphanPolicy: temporal.orphanPolicy ?? 'adopt' };
    }),
  };
}
