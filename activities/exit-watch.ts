import type { PositionActivities } from './contracts.js';
import type { ActivityDeps } from './deps.js';

/**
 * The position workflow's side of exits on the stream: local activities, so the watch lands in the worker
 * that runs the workflow's tasks (and follows its symbol's streams). Without event-driven mode nothing is
 * watched and the position polls at its usual rate.
 */
export function exitWatchActivities(deps: ActivityDeps): Pick<PositionActivities, 'watchExits' | 'unwatchExits'> {
  return {
    async watchExits(req) {
      return deps.marketEvents?.watchExits(req) ?? { streaming: false };
    },
    async unwatchExits({ positionId }) {
      deps.marketEvents?.unwatchExits(positionId);
    },
  };
}
