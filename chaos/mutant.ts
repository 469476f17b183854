/**
 * The deliberate defect of the mutation check (chaos/mutation.ts): idempotency broken in its two places.
 * 1. Before an order leaves, the order activities look it up by its own client id, so a retry after a lost or
 *    held answer finds the order instead of sending it again. The mutant skips those lookups ("not found").
 * 2. The position lifecycle does not retry its order activities (one attempt each): an order whose answer is
 *    unknown (lost, held, its worker killed) stays unresolved until a lookup of its id settles it, and only an
 *    id proven absent is followed by a send under the next id. The mutant takes an unknown answer for "not
 *    sent", so the next id goes out at once, beside an order that may have executed: a blind resend.
 */

/** Where orders are sent: the code from `from` up to the send `until` holds the lookups to remove. */
export const TARGETS = [
  { file: 'activities/idempotent-orders.ts', from: 'export async function placeMarketOrderOnce', until: 'ex.placeMarketOrder(' },
  { file: 'activities/position-orders.ts', from: 'submitEntry(req)', until: 'ex.placeMarketOrder(' },
  { file: 'activities/position-orders.ts', from: 'submitExit(req)', until: 'ex.placeMarketOrder(' },
] as const;

/** The lookup of the order's own client id at the exchange. */
const LOOKUP = /await ex\.getOrder\(req\.symbol, req\.clientOrderId\)/g;

/**
 * `source` with the client-id lookups between `from` and the next `until` replaced by null; `removed` is 0
 * when the file has no such place (the code moved on: update TARGETS).
 */
export function removeClientIdLookups(source: string, target: { from: string; until: string }): { source: string; removed: number } {
  const start = source.indexOf(target.from);
  const end = start < 0 ? -1 : source.indexOf(target.until, start);
  if (end < 0) return { source, removed: 0 };
  const body = source.slice(start, end);
  const removed = body.match(LOOKUP)?.length ?? 0;
  return { source: source.slice(0, start) + body.replace(LOOKUP, 'null') + source.slice(end), removed };
}

/** Where the position lifecycle records an unknown answer, and what the mutant records instead. */
export const UNKNOWN_ANSWER = { file: 'core/lifecycle-facts.ts', from: "case 'UNKNOWN':", until: 'return;', find: "a.status = 'UNKNOWN';", replace: "a.status = 'NOT_SENT';" } as const;

/** `source` with the unknown answer of UNKNOWN_ANSWER recorded as not sent; `replaced` 0 when not found. */
export function resendBlindly(source: string): { source: string; replaced: number } {
  const { from, until, find, replace } = UNKNOWN_ANSWER;
  const start = source.indexOf(from);
  const end = start < 0 ? -1 : source.indexOf(until, start);
  if (end < 0 || !source.slice(start, end).includes(find)) return { source, replaced: 0 };
  return { source: source.slice(0, start) + source.slice(start, end).replace(find, replace) + source.slice(end), replaced: 1 };
}

/** Applies every target found under `root` through `read` / `write`; throws when none applies. */
export function mutate(read: (file: string) => string | null, write: (file: string, text: string) => void): string[] {
  const applied: string[] = [];
  const lifecycle = read(UNKNOWN_ANSWER.file);
  const blind = lifecycle === null ? { source: '', replaced: 0 } : resendBlindly(lifecycle);
  if (blind.replaced > 0) {
    write(UNKNOWN_ANSWER.file, blind.source);
    applied.push(`${UNKNOWN_ANSWER.file}: an unknown order answer taken for "not sent" (the next id is sent without a lookup)`);
  }
  for (const target of TARGETS) {
    const text = read(target.file);
    if (text === null) continue;
    const mutant = removeClientIdLookups(text, target);
    if (mutant.removed === 0) continue;
    write(target.file, mutant.source);
    applied.push(`${target.file} (${target.from}): ${mutant.removed} lookup(s)`);
  }
  if (applied.length === 0) throw new Error('no client-id lookup before a send was found: update TARGETS in chaos/mutant.ts to the current order code');
  return applied;
}
