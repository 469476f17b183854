import { log, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { RetrainActivities, RetrainInput, RetrainResult } from './retrain-contracts.js';
import { SA_CANDIDATE, SA_OUTCOME } from './search-attributes.js';

// Data preparation and the gate take seconds to minutes and are idempotent (checkpoints, keyed registry rows).
const steps = proxyActivities<RetrainActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 10 },
});
// Training is long: its heartbeat (with progress) notices a dead worker in seconds; the retry resumes from
// the stages already checkpointed in the candidate's work directory.
const trainer = proxyActivities<RetrainActivities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '20s',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 10 },
});

/**
 * One turn of the learning loop (started by the `qt-retrain` schedule or `qt retrain --now`): market data
 * up to the venue's clock plus the agent's own outcomes -> a candidate trained by the Python trainer ->
 * the promotion gate -> PROMOTED (ACTIVE in the registry; workers hot-reload it) or REJECTED with the reason.
 */
export async function retrainWorkflow(input: RetrainInput = {}): Promise<RetrainResult> {
  const info = workflowInfo();
  const candidate = candidateVersion(Date.now(), info.runId, input.shuffleLabels === true);
  upsertSearchAttributes([{ key: SA_CANDIDATE, value: candidate }, { key: SA_OUTCOME, value: 'TRAINING' }]);
  const data = await steps.prepareRetrainData({ candidate });
  log.info('retrain data ready', { candidate, rows: data.rows, ownTrades: data.ownTrades, dataEnd: new Date(data.dataEnd).toISOString() });
  const trained = await trainer.trainCandidate({ candidate, data, shuffleLabels: input.shuffleLabels === true });
  const result = await steps.gateCandidate({ candidate, workflowId: info.workflowId, trained });
  upsertSearchAttributes([{ key: SA_OUTCOME, value: result.outcome }]);
  log.info('retrain finished', { ...result });
  return result;
}

/** `xgb-r<UTC date>-<time>-<run>`: sortable, unique per run, and the same on every replay of it. */
function candidateVersion(startedAt: number, runId: string, shuffled: boolean): string {
  const stamp = new Date(startedAt).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `xgb-r${stamp}-${runId.slice(0, 4)}${shuffled ? '-shuffled' : ''}`;
}
