import { patched, proxyLocalActivities } from '@temporalio/workflow';
import type { ClockActivities } from '../activities/contracts.js';

const clock = proxyLocalActivities<ClockActivities>({ startToCloseTimeout: '5s', retry: { initialInterval: '100ms', maximumAttempts: 10 } });

/** Marks histories whose time-dependent decisions read the clock from history (see `trustedNow`). */
export const TRUSTED_CLOCK_PATCH = 'trusted-clock';

/**
 * The time to base a decision on, recorded in the workflow's history.
 *
 * Why not `Date.now()`: with @temporalio/worker 1.24.0, a worker that answers a query for a workflow it has
 * not cached (it replays the history to answer) hands that workflow's next activation the time of an older
 * workflow task instead of the current one; a later full replay sees the correct time. A decision that
 * compares the clock with a deadline (a cooldown, a lookup that is due) can then go one way live and the other
 * way on replay: a nondeterminism error that stops the workflow after the next worker restart. A fresh worker
 * answering `qt status` or the Web UI before a workflow's next task is enough to trigger it. Reading the clock
 * through a local activity records the value as a marker, so live and replay decide on the same number.
 *
 * Histories from before this change keep `Date.now()` (no marker), so they replay unchanged.
 */
export async function trustedNow(): Promise<number> {
  return patched(TRUSTED_CLOCK_PATCH) ? clock.readClock() : Date.now();
}
