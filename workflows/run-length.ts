import { patched, workflowInfo } from '@temporalio/workflow';

/**
 * Long-lived workflows continue as new once their run's history reaches this many events.
 *
 * Why so few: a worker that starts (after a crash, a deploy) replays the whole current run of every workflow it
 * takes over before any of them moves on. With @temporalio/worker 1.24.0 a replay cost 1.5 to 2.7 ms per event
 * (about 13 ms per workflow task) on a shared 2-core machine at a load average of 4 to 6, measured on the chaos
 * run's histories, and the symbol loops, the open positions and the risk book all replay at once. At 2,000 ticks
 * per run a loop's run reached thousands of events, the first workflow tasks after a restart outlasted the 10 s
 * task timeout and the loops took 10 to 30 s to tick again. At 500 events a run (about 55 ticks; 14 minutes at a
 * 15 s interval) a loop's replay takes about a second at most; a new run costs about 20 events (search
 * attributes and patch markers).
 */
export const MAX_EVENTS_PER_RUN = 500;

/** Runs recorded before the limit keep their own (ticks, steps, requests) until their next continue-as-new. */
const SHORT_RUNS = 'short-runs';

/**
 * Call once at the start of a run: whether this run ends at MAX_EVENTS_PER_RUN. The answer is fixed for the
 * run, so a run recorded before the limit replays as it ran.
 */
export function runEndsAtEventLimit(): () => boolean {
  const limited = patched(SHORT_RUNS);
  return () => limited && workflowInfo().historyLength >= MAX_EVENTS_PER_RUN;
}
