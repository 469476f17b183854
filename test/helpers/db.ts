import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { Journal } from '../../journal/journal.js';

/**
 * Each test file gets its own database on the shared server, so files running in parallel never
 * see each other's rows.
 */
export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export function sharedDatabaseUrl(): string {
  return inject('databaseUrl');
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: sharedDatabaseUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** An empty database `qt_test_<random>` (not migrated). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `qt_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(sharedDatabaseUrl());
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A fresh, migrated database with a connected Journal; `cleanup` closes it and drops the database. */
export async function createTestJournal(): Promise<{ journal: Journal; url: string; cleanup(): Promise<void> }> {
  const db = await createTestDatabase();
  const journal = await Journal.connect(db.url);
  await journal.migrate();
  return {
    journal,
    url: db.url,
    cleanup: async () => {
      await journal.close();
      await db.drop();
    },
  };
}

/**
 * Registers beforeAll/afterAll hooks that give the test file one migrated database; call at the
 * top level of the file and read `.journal` / `.url` inside tests.
 */
export function useTestJournal(): { readonly journal: Journal; readonly url: string } {
  let current: Awaited<ReturnType<typeof createTestJournal>> | undefined;
  beforeAll(async () => {
    current = await createTestJournal();
  });
  afterAll(async () => {
    await current?.cleanup();
  });
  return {
    get journal() {
      if (!current) throw new Error('useTestJournal: read the journal inside a test, after beforeAll');
      return current.journal;
    },
    get url() {
      if (!current) throw new Error('useTestJournal: read the url inside a test, after beforeAll');
      return current.url;
    },
  };
}
