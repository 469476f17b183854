/** Resolves after `ms` milliseconds (a negative or zero wait resolves on the next timer turn). */
export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
