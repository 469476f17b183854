import { patched } from '@temporalio/workflow';

/** Marks runs that decide every patch they use at their start (see `runPatches`). */
export const PATCHES_AT_START = 'patches-checked-at-run-start';

/** Whether a patch is on in this run. */
export type PatchCheck = (id: string) => boolean;

/**
 * The patches a run uses, decided at its start, before its first local activity.
 *
 * Why: with @temporalio/worker 1.24.0 under load, a local activity's marker can be written to history with one
 * workflow task while its result reaches the workflow with the next (see test/trading/late-local-result.test.ts).
 * A replay resolves it one task earlier, so a patch asked for the first time right after such a result is asked
 * for in a task whose history does not hold its marker yet: `patched()` answers false there, the replay takes
 * the old path and fails ("patch marker encountered ... but there is no corresponding change command"). Asked
 * before any local activity, every marker sits in the run's first task, where live and replay agree.
 *
 * Runs recorded before this keep asking when they need a patch (their markers are where that put them); asking
 * for a patch not listed at the start is a defect in the workflow code, refused at once.
 */
export function runPatches(ids: readonly string[]): PatchCheck {
  if (!patched(PATCHES_AT_START)) return patched;
  const decided = new Map(ids.map((id) => [id, patched(id)]));
  return (id) => {
    const on = decided.get(id);
    if (on === undefined) throw new Error(`patch ${id} is not decided at the start of the run`);
    return on;
  };
}
