import { ActivityFailure } from '@temporalio/workflow';

/** The message worth logging: an activity failure's cause (the exchange's words), else the error. */
export function failureText(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
