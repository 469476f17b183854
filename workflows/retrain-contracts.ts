/** Shapes shared by the retrain workflow, its activities and the client (no workflow or Node imports). */

export interface RetrainInput {
  /** Control run: train on permuted labels. Such a candidate is never promoted (the gate's evidence). */
  shuffleLabels?: boolean;
}

export interface PreparedData {
  /** Dataset sidecar (qt dataset build format) in the candidate's work directory. */
  dataset: string;
  /** The agent's own closed positions (features reference, model version, side, net return) as JSON. */
  outcomes: string;
  rows: number;
  symbols: string[];
  ownTrades: number;
  /** Market time the data ends at (exclusive): the replay clock on the paper exchange, the venue's clock live. */
  dataEnd: number;
  windowStart: number;
}

export interface TrainedCandidate {
  /** Model directory in the model store (model.onnx, card.json, parity-sample.json). */
  dir: string;
  /** The gate's evidence from Python: last-fold figures of the candidate, the active model, baselines, control. */
  evidence: string;
}

export type RetrainOutcome = 'PROMOTED' | 'REJECTED';

export interface RetrainResult {
  candidate: string;
  outcome: RetrainOutcome;
  reason: string;
  active: string | null;
}

export interface RetrainActivities {
  prepareRetrainData(req: { candidate: string }): Promise<PreparedData>;
  trainCandidate(req: { candidate: string; data: PreparedData; shuffleLabels: boolean }): Promise<TrainedCandidate>;
  gateCandidate(req: { candidate: string; workflowId: string; trained: TrainedCandidate }): Promise<RetrainResult>;
}

/** Id of the deployment's retrain schedule: `qt-retrain`, suffixed by the task queue when it is not the default. */
export const retrainScheduleId = (taskQueue: string, defaultQueue: string): string => (taskQueue === defaultQueue ? 'qt-retrain' : `qt-retrain-${taskQueue}`);
