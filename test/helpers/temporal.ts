import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { inject } from 'vitest';
import { ensureSearchAttributes } from '../../infra/temporal.js';
import { sleep } from '../../infra/sleep.js';

/** Address of the shared Temporal server started by test/global-setup.ts (or TEMPORAL_ADDRESS). */
export function temporalAddress(): string {
  return inject('temporalAddress');
}

/** The namespace the shared server was prepared with (search attributes registered). */
export function temporalNamespace(): string {
  return inject('temporalNamespace');
}

/** A task queue no other test uses: workers of parallel test files never steal each other's tasks. */
export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A workflow id unique to this run, readable in the Web UI. */
export function uniqueWorkflowId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface TestClient {
  connection: Connection;
  client: Client;
  namespace: string;
  close(): Promise<void>;
}

export async function connectTestClient(namespace: string = temporalNamespace()): Promise<TestClient> {
  const connection = await Connection.connect({ address: temporalAddress() });
  const client = new Client({ connection, namespace });
  return { connection, client, namespace, close: () => connection.close() };
}

/**
 * Registers a namespace of its own (with the project's search attributes) for a test that needs
 * full isolation, e.g. one that lists every workflow. Most tests only need a unique task queue.
 */
export async function createTestNamespace(
  connection: Connection,
  options: { name?: string; searchAttributes?: boolean } = {},
): Promise<string> {
  const name = options.name ?? `qt-test-${randomUUID().slice(0, 8)}`;
  await connection.workflowService.registerNamespace({ namespace: name, workflowExecutionRetentionPeriod: msToTs('1 day') });
  // The frontend learns of a new namespace through a cache refresh; wait until it accepts calls.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await connection.workflowService.listWorkflowExecutions({ namespace: name, pageSize: 1 });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
  if (options.searchAttributes !== false) await ensureSearchAttributes(connection, name);
  return name;
}
