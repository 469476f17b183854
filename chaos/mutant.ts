/**
 * The one deliberate defect of the mutation check (chaos/mutation.ts): `placeMarketOrderOnce` looks an
 * order up by its client id before sending it and again before a retry resends it; the mutant skips both,
 * so a retry after a lost or held answer sends the order a second time.
 */
export const TARGET_FILE = 'activities/idempotent-orders.ts';
const TARGET_FUNCTION = 'export async function placeMarketOrderOnce';
/** The lookup of the order's client id at the exchange. */
const LOOKUP = /await ex\.getOrder\(req\.symbol, req\.clientOrderId\)/g;

/** Where the order leaves: only the lookups before it are removed (the one after a -4116 refusal stays). */
const SEND = 'ex.placeMarketOrder(';

/** The source of `placeMarketOrderOnce` with the client-id lookups before the send replaced by "not found". */
export function removeClientIdLookups(source: string): { source: string; removed: number } {
  const start = source.indexOf(TARGET_FUNCTION);
  if (start < 0) throw new Error(`${TARGET_FILE} has no "${TARGET_FUNCTION}": update chaos/mutation.ts to the new code`);
  const end = source.indexOf(SEND, start);
  if (end < 0) throw new Error(`placeMarketOrderOnce no longer sends with ${SEND}: update chaos/mutation.ts to the new code`);
  const body = source.slice(start, end);
  const removed = body.match(LOOKUP)?.length ?? 0;
  if (removed === 0) throw new Error(`no client-id lookup (${LOOKUP.source}) in placeMarketOrderOnce: update chaos/mutation.ts to the new code`);
  return { source: source.slice(0, start) + body.replace(LOOKUP, 'null') + source.slice(end), removed };
}
