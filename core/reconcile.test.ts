import { describe, expect, it } from 'vitest';
import { findings, planReconciliation, type Observation } from './reconcile.js';

const base = (over: Partial<Observation> = {}): Observation => ({
  at: 0,
  exposures: [],
  stops: [],
  owners: [],
  loops: [],
  journalOpen: [],
  reservations: [],
  killFlatten: false,
  ...over,
});
const kinds = (o: Observation, policy: 'adopt' | 'flatten' = 'adopt') => findings(o, policy).map((a) => a.kind);

describe('reconciliation planning', () => {
  const btc = { symbol: 'BTCUSDT', positionAmt: 0.01, entryPrice: 60_000, markPrice: 60_100 };

  it('adopts or flattens exposure nobody owns, through the symbol loop when one runs', () => {
    expect(findings(base({ exposures: [btc] }), 'adopt')).toEqual([{ kind: 'ADOPT', symbol: 'BTCUSDT', positionAmt: 0.01, entryPrice: 60_000, markPrice: 60_100 }]);
    expect(kinds(base({ exposures: [btc] }), 'flatten')).toEqual(['FLATTEN']);
    expect(kinds(base({ exposures: [btc], killFlatten: true }), 'adopt')).toEqual(['FLATTEN']);
    const withLoop = base({ exposures: [btc], loops: [{ symbol: 'BTCUSDT', openPositionId: 'BTCUSDT-a-1' }] });
    expect(findings(withLoop, 'adopt')).toEqual([{ kind: 'RECLAIM', symbol: 'BTCUSDT', stalePositionId: 'BTCUSDT-a-1' }]);
    expect(kinds(withLoop, 'flatten')).toEqual(['FLATTEN', 'RECLAIM']);
  });

  it('leaves owned exposure, its stop and its journal row alone', () => {
    const o = base({
      exposures: [btc],
      owners: [{ positionId: 'BTCUSDT-a-1', symbol: 'BTCUSDT' }],
      loops: [{ symbol: 'BTCUSDT', openPositionId: 'BTCUSDT-a-1' }],
      stops: [{ symbol: 'BTCUSDT', clientAlgoId: 'qt-a-1-S' }],
      journalOpen: [{ positionId: 'BTCUSDT-a-1', symbol: 'BTCUSDT', side: 'LONG' }],
      reservations: [{ positionId: 'BTCUSDT-a-1', symbol: 'BTCUSDT' }],
    });
    expect(findings(o, 'adopt')).toEqual([]);
  });

  it('treats a position being entered (workflow running, no exposure, no stop yet) as owned', () => {
    const entering = base({ owners: [{ positionId: 'ETHUSDT-b-2', symbol: 'ETHUSDT' }], loops: [{ symbol: 'ETHUSDT', openPositionId: 'ETHUSDT-b-2' }], reservations: [{ positionId: 'ETHUSDT-b-2', symbol: 'ETHUSDT' }] });
    expect(findings(entering, 'flatten')).toEqual([]);
  });

  it('cancels stops that guard nothing, keeps a stop beside exposure nobody owns yet', () => {
    expect(kinds(base({ stops: [{ symbol: 'BTCUSDT', clientAlgoId: 'qt-a-1-S' }] }))).toEqual(['CANCEL_STOP']);
    expect(kinds(base({ stops: [{ symbol: 'BTCUSDT', clientAlgoId: 'someone-else' }] }))).toEqual(['CANCEL_STOP']);
    expect(kinds(base({ exposures: [btc], stops: [{ symbol: 'BTCUSDT', clientAlgoId: 'qt-a-1-S' }] }))).toEqual(['ADOPT']);
    // After adoption the dead owner's stop is a second, stale guard next to the new owner's.
    const adopted = base({
      exposures: [btc],
      owners: [{ positionId: 'BTCUSDT-r-1', symbol: 'BTCUSDT' }],
      stops: [{ symbol: 'BTCUSDT', clientAlgoId: 'qt-a-1-S' }, { symbol: 'BTCUSDT', clientAlgoId: 'qt-r-1-S' }],
      reservations: [{ positionId: 'BTCUSDT-r-1', symbol: 'BTCUSDT' }],
    });
    expect(findings(adopted, 'adopt')).toEqual([{ kind: 'CANCEL_STOP', symbol: 'BTCUSDT', clientAlgoId: 'qt-a-1-S' }]);
  });

  it('settles OPEN journal rows whose workflow is gone, after adoption when exposure remains', () => {
    const row = { positionId: 'BTCUSDT-a-1', symbol: 'BTCUSDT', side: 'LONG' as const };
    expect(findings(base({ journalOpen: [row] }), 'adopt')).toEqual([{ kind: 'SETTLE_ROW', symbol: 'BTCUSDT', positionId: 'BTCUSDT-a-1', side: 'LONG', mode: 'FLAT' }]);
    expect(kinds(base({ journalOpen: [row], exposures: [btc] }))).toEqual(['ADOPT']);
    const handedOver = base({ journalOpen: [row], exposures: [btc], owners: [{ positionId: 'BTCUSDT-r-1', symbol: 'BTCUSDT' }], reservations: [{ positionId: 'BTCUSDT-r-1', symbol: 'BTCUSDT' }] });
    expect(findings(handedOver, 'adopt')).toEqual([{ kind: 'SETTLE_ROW', symbol: 'BTCUSDT', positionId: 'BTCUSDT-a-1', side: 'LONG', mode: 'TRANSFERRED' }]);
    expect(findings(base({ journalOpen: null }), 'adopt')).toEqual([]);
  });

  it('releases reservations without a live position and counts owned exposure without one', () => {
    expect(kinds(base({ reservations: [{ positionId: 'BTCUSDT-a-1', symbol: 'BTCUSDT' }] }))).toEqual(['RELEASE']);
    const unreserved = base({ exposures: [btc], owners: [{ positionId: 'BTCUSDT-a-1', symbol: 'BTCUSDT' }] });
    expect(findings(unreserved, 'adopt')).toEqual([{ kind: 'RESERVE', symbol: 'BTCUSDT', positionId: 'BTCUSDT-a-1', notional: 0.01 * 60_100 }]);
    expect(findings({ ...unreserved, reservations: null }, 'adopt')).toEqual([]);
  });

  it('frees a loop stuck IN_POSITION after its position workflow was terminated', () => {
    expect(findings(base({ loops: [{ symbol: 'BTCUSDT', openPositionId: 'BTCUSDT-a-1' }] }), 'adopt')).toEqual([{ kind: 'RECLAIM', symbol: 'BTCUSDT', stalePositionId: 'BTCUSDT-a-1' }]);
  });

  it('acts only on what two observations agree on', () => {
    const orphan = base({ exposures: [btc] });
    const plan = planReconciliation(base(), orphan, 'adopt');
    expect(plan.actions).toEqual([]);
    expect(plan.suspects.map((a) => a.kind)).toEqual(['ADOPT']);
    expect(planReconciliation(orphan, orphan, 'adopt').actions.map((a) => a.kind)).toEqual(['ADOPT']);
    // The exposure changed between the observations (still being filled): not yet.
    expect(planReconciliation(orphan, base({ exposures: [{ ...btc, positionAmt: 0.02 }] }), 'adopt').actions).toEqual([]);
    // An owner appeared in the second observation (visibility caught up): nothing to do.
    expect(planReconciliation(orphan, base({ exposures: [btc], owners: [{ positionId: 'BTCUSDT-a-1', symbol: 'BTCUSDT' }], reservations: [{ positionId: 'BTCUSDT-a-1', symbol: 'BTCUSDT' }] }), 'adopt')).toEqual({ actions: [], suspects: [] });
  });

  it('flattens before it tells the loop', () => {
    const o = base({ exposures: [btc], loops: [{ symbol: 'BTCUSDT', openPositionId: null }], stops: [{ symbol: 'ETHUSDT', clientAlgoId: 'qt-x-1-S' }] });
    expect(planReconciliation(o, o, 'flatten').actions.map((a) => a.kind)).toEqual(['FLATTEN', 'CANCEL_STOP', 'RECLAIM']);
  });
});
