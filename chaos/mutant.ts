/**
 * The one deliberate defect of the mutation check (chaos/mutation.ts): before an order leaves, the order
 * activities look it up by its own client id, so a retry after a lost or held answer finds the order instead
 * of sending it again. The mutant skips those lookups ("not found"), so such a retry sends a second order
 * under the same id.
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

/** Applies every target found under `root` through `read` / `write`; throws when none applies. */
export function mutate(read: (file: string) => string | null, write: (file: string, text: string) => void): string[] {
  const applied: string[] = [];
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
