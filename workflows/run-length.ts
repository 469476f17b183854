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

/**
 * The symbol loops and the risk book end their runs sooner, at this many events (about 20 ticks; 5 minutes at a
 * 15 s interval).
 *
 * Why: a restarted worker's first workflow tasks replay every loop's current run at once, on two workflow
 * threads of a machine the fleet already keeps busy, and the last loop ticks again only once all of them are
 * through. At 500 events the ten loops of the chaos run replayed 2,230 to 3,900 events per restart (200 to 420
 * each) and their first tasks completed 2.7 to 7.4 s after the worker was back; at 200 events, 540 to 1,660 and
 * 1.0 to 5.6 s (chaos/breakdown.ts, 3-minute runs, seed 2). A new run costs one workflow task and about 20 events
 * every 20 ticks. Runs of 100 events replayed about 700 and recovered no faster on the loaded machine, at twice
 * the continue-as-new rate. Positions keep MAX_EVENTS_PER_RUN: most of them close before 200 events.
 */
export const MAX_EVENTS_PER_LOOP_RUN = 200;

/** Runs recorded before the limit keep their own (ticks, steps, requests) until their next continue-as-new. */
const SHORT_RUNS = 'short-runs';
/** Runs recorded before the loops' lower limit keep ending at MAX_EVENTS_PER_RUN. */
const SHORTER_RUNS = 'runs-of-200-events';

/**
 * Call once at the start of a run: whether this run ends at its event limit (MAX_EVENTS_PER_RUN, or `lower` for
 * runs recorded since it exists). The answer is fixed for the run, so a run recorded before a limit replays as
 * it ran.
 */
export function runEndsAtEventLimit(lower?: number): () => boolean {
  const limit = lower !== undefined && patched(SHORTER_RUNS) ? lower : patched(SHORT_RUNS) ? MAX_EVENTS_PER_RUN : Number.POSITIVE_INFINITY;
  return () => workflowInfo().historyLength >= limit;
}
