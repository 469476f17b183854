import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveDatabase, startEmbeddedPostgres } from '../../infra/postgres.js';
import { sharedDatabaseUrl } from '../helpers/db.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'qt-pg-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  it('keeps its data across a stop and a second start', async () => {
    const dataDir = path.join(tmp, 'cluster');
    const first = await startEmbeddedPostgres({ dataDir, port: 0 });
    try {
      await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    } finally {
      await first.stop();
    }
    await expect(query(first.url, 'SELECT 1')).rejects.toThrow();

    const second = await startEmbeddedPostgres({ dataDir, port: 0 });
    try {
      expect(await query<{ n: number }>(second.url, 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
      expect(await query(second.url, 'SELECT host(inet_server_addr()) AS addr')).toEqual([{ addr: '127.0.0.1' }]);
    } finally {
      await second.stop();
    }
  });
});

describe('resolveDatabase', () => {
  it('uses DATABASE_URL as given and starts nothing', async () => {
    const url = sharedDatabaseUrl();
    const resolved = await resolveDatabase({ databaseUrl: url, dataDir: path.join(tmp, 'unused') });
    expect(resolved.url).toBe(url);
    await resolved.stop(); // must not stop the shared server
    expect(await query(url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
