import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type RunningPostgres } from '../infra/postgres.js';
import { ensureSearchAttributes, startTemporalDevServer, type TemporalDevServer } from '../infra/temporal.js';

/**
 * Starts one Temporal dev server and one Postgres for the whole `vitest run` (or uses
 * TEMPORAL_ADDRESS / DATABASE_URL), and hands their addresses to test files through
 * provide/inject. Test files isolate themselves with test/helpers (own database, own task queue).
 */

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    databaseUrl: string;
  }
}

const NAMESPACE = 'default';

async function existingTemporal(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await ensureSearchAttributes(connection, NAMESPACE);
  } finally {
    await connection.close();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'qt-test-'));
  const verbose = process.env.QT_TEST_VERBOSE === '1';
  const log = verbose ? (line: string) => console.log(line) : undefined;

  let temporal: TemporalDevServer | undefined;
  let postgres: RunningPostgres | undefined;
  const teardown = async () => {
    await Promise.allSettled([temporal?.stop(), postgres?.stop()]);
    rmSync(tempDir, { recursive: true, force: true });
  };

  const temporalAddress = process.env.TEMPORAL_ADDRESS;
  const databaseUrl = process.env.DATABASE_URL;
  const [temporalResult, postgresResult] = await Promise.allSettled([
    temporalAddress
      ? existingTemporal(temporalAddress).then(() => temporalAddress)
      : startTemporalDevServer({ port: 0, uiPort: false, dbFile: path.join(tempDir, 'temporal.sqlite'), namespace: NAMESPACE, log })
          .then((server) => ((temporal = server), server.address)),
    databaseUrl
      ? Promise.resolve(databaseUrl)
      : startEmbeddedPostgres({ dataDir: path.join(tempDir, 'postgres'), port: 0, ephemeral: true, log })
          .then((server) => ((postgres = server), server.url)),
  ]);
  if (temporalResult.status === 'rejected' || postgresResult.status === 'rejected') {
    await teardown();
    const reasons = [temporalResult, postgresResult].filter((r) => r.status === 'rejected').map((r) => String(r.reason));
    throw new Error(`Test servers failed to start:\n${reasons.join('\n')}`);
  }

  project.provide('temporalAddress', temporalResult.value);
  project.provide('temporalNamespace', NAMESPACE);
  project.provide('databaseUrl', postgresResult.value);
  console.log(`test servers ready in ${Date.now() - started} ms: temporal ${temporalResult.value}, postgres ${redact(postgresResult.value)}`);
  return teardown;
}

function redact(url: string): string {
  return url.replace(/:[^:@/]*@/, ':***@');
}
