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
 * threads, and the last loop ticks again only once all of them are through: at 500 events the loops replayed
 * 200 to 400 events each (3,000 to 4,000 with the positions and the book, 1.5 to 2 MiB of history) and the
 * first tasks completed 3 to 7 s after the worker was back (chaos/breakdown.ts on a 3-minute chaos run, seed 2).
 * A run of 200 events halves what is replayed on average; a new run costs one workflow task and about 20 events,
 * i.e. a tenth more history, written once every 20 ticks.
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
