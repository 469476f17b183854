/**
 * Task queue of a default deployment (QT_TASK_QUEUE); its book-wide workflows get the short ids.
 * Its own module, free of config.ts's zod schemas, because the workflows need it (workflows/book-contracts.ts).
 */
export const DEFAULT_TASK_QUEUE = 'quantum-trader';
