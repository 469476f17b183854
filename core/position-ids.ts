/**
 * How position and order ids relate. A position id is `<SYMBOL>-<tag>` (the tag is unique per owner,
 * e.g. `<instance>-<seq>`); its orders carry the stem `qt-<tag>` plus a suffix: `-E` entry, `-S`
 * protective stop, `-X<n>` exits, `-K` a flatten without a position workflow. Reconciliation uses
 * this to tell whose stop an algo order is without asking anyone.
 */
export const positionIdOf = (symbol: string, tag: string): string => `${symbol}-${tag}`;

export function symbolOfPositionId(positionId: string): string {
  const i = positionId.indexOf('-');
  return i < 0 ? positionId : positionId.slice(0, i);
}

export function orderStemOf(positionId: string): string {
  return `qt-${positionId.slice(positionId.indexOf('-') + 1)}`;
}

export const stopIdOf = (positionId: string): string => `${orderStemOf(positionId)}-S`;

/** The position a protective stop id belongs to, or null for an id this agent did not make. */
export function positionIdOfStop(symbol: string, clientAlgoId: string): string | null {
  const m = /^qt-(.+)-S$/.exec(clientAlgoId);
  return m ? positionIdOf(symbol, m[1]!) : null;
}
