import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Columns the Web UI shows for symbol workflows. The dev server allows few custom attributes per
 * type (Keyword 10, Double 3), so this list is deliberately short. `infra/temporal.ts` registers
 * exactly these with the dev server.
 */
export const SA_SYMBOL = defineSearchAttributeKey('QtSymbol', 'KEYWORD');
export const SA_STATE = defineSearchAttributeKey('QtState', 'KEYWORD');
export const SA_SIGNAL = defineSearchAttributeKey('QtSignal', 'KEYWORD');
export const SA_SIDE = defineSearchAttributeKey('QtSide', 'KEYWORD');
export const SA_CONFIDENCE = defineSearchAttributeKey('QtConfidence', 'DOUBLE');

/** The retrain workflow's columns: the candidate version it trains and how it ended (TRAINING, PROMOTED, REJECTED). */
export const SA_CANDIDATE = defineSearchAttributeKey('QtCandidate', 'KEYWORD');
export const SA_OUTCOME = defineSearchAttributeKey('QtOutcome', 'KEYWORD');

export const SEARCH_ATTRIBUTES = [SA_SYMBOL, SA_STATE, SA_SIGNAL, SA_SIDE, SA_CONFIDENCE, SA_CANDIDATE, SA_OUTCOME] as const;
