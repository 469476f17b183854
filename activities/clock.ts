import type { ClockActivities } from './contracts.js';

/** The worker's wall clock, read as a (local) activity so the workflow's history records it. */
export function clockActivities(): ClockActivities {
  return {
    async readClock() {
      return Date.now();
    },
  };
}
