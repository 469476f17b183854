import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../../journal/journal.js';
import { loadMigrations } from '../../journal/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('journal migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('apply each file once even when several processes start together', async () => {
    const journals = await Promise.all([Journal.connect(db.url), Journal.connect(db.url), Journal.connect(db.url)]);
    try {
      const applied = await Promise.all(journals.map((j) => j.migrate()));
      const versions = loadMigrations().map((m) => m.version);
      expect(versions.length).toBeGreaterThan(0);
      // Exactly one of the concurrent callers applied everything; the others found nothing to do.
      expect(applied.flat().sort()).toEqual(versions);
      expect(applied.filter((a) => a.length > 0)).toHaveLength(1);

      expect(await journals[0]!.migrate()).toEqual([]);
      const rows = await journals[0]!.pool.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.rows.map((r) => r.version)).toEqual(versions);
    } finally {
      await Promise.all(journals.map((j) => j.close()));
    }
  });

  it('reads migration files in numeric order', () => {
    const versions = loadMigrations().map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(loadMigrations().every((m) => m.sql.trim().length > 0 && m.name.length > 0)).toBe(true);
  });
});
