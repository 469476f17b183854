import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { readCard, type ModelCard } from './model.js';

export type ModelStatus = 'CANDIDATE' | 'ACTIVE' | 'REJECTED' | 'RETIRED';

/** One row of the model registry (journal/migrations/004_model_registry.sql). */
export interface RegisteredModel {
  version: string;
  status: ModelStatus;
  dir: string;
  card: ModelCard;
  metrics: Record<string, unknown>;
  dataHash: string | null;
  codeVersion: string | null;
  reason: string | null;
  candidateOf: string | null;
  createdAt: Date;
  promotedBy: string | null;
  promotedAt: Date | null;
  retiredAt: Date | null;
}

/** What promotion must respect: live trading refuses a model whose card is not promotable unless overridden. */
export interface PromotionGuard {
  liveTrading: boolean;
  allowUnproven: boolean;
}

/** A promotion or rollback the registry refuses (unknown version, nothing to roll back to, the live guard). */
export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryError';
  }
}

const COLUMNS = `version, status, dir, card, metrics, data_hash AS "dataHash", code_version AS "codeVersion", reason,
  candidate_of AS "candidateOf", created_at AS "createdAt", promoted_by AS "promotedBy", promoted_at AS "promotedAt",
  retired_at AS "retiredAt"`;

/**
 * The models the agent may score with, in Postgres. Exactly one row is ACTIVE (a unique partial index);
 * promotion and rollback move it inside one transaction, so a reader never sees zero or two.
 */
export class ModelRegistry {
  constructor(private readonly pool: pg.Pool) {}

  async active(): Promise<RegisteredModel | null> {
    const r = await this.pool.query<RegisteredModel>(`SELECT ${COLUMNS} FROM models WHERE status = 'ACTIVE'`);
    return r.rows[0] ?? null;
  }

  async get(version: string): Promise<RegisteredModel | null> {
    const r = await this.pool.query<RegisteredModel>(`SELECT ${COLUMNS} FROM models WHERE version = $1`, [version]);
    return r.rows[0] ?? null;
  }

  /** Newest first. */
  async list(): Promise<RegisteredModel[]> {
    return (await this.pool.query<RegisteredModel>(`SELECT ${COLUMNS} FROM models ORDER BY created_at DESC, version`)).rows;
  }

  /** The candidate a retrain workflow registered, if it got that far. */
  async byCandidateOf(workflowId: string): Promise<RegisteredModel | null> {
    const r = await this.pool.query<RegisteredModel>(`SELECT ${COLUMNS} FROM models WHERE candidate_of = $1`, [workflowId]);
    return r.rows[0] ?? null;
  }

  /**
   * First start: an empty registry gets the shipped model (QT_MODEL_DIR) as its ACTIVE row, so the agent
   * keeps scoring with it until something else is promoted. Returns true when it seeded now.
   */
  async seed(dir: string, codeVersion: string): Promise<boolean> {
    const card = readCard(dir);
    const r = await this.pool.query(
      `INSERT INTO models (version, status, dir, card, data_hash, code_version, reason, promoted_by, promoted_at)
       SELECT $1, 'ACTIVE', $2, $3, $4, $5, 'the shipped model, seeded on first start', 'seed', now()
       WHERE NOT EXISTS (SELECT 1 FROM models)
       ON CONFLICT DO NOTHING`,
      [card.name, dir, JSON.stringify(card), dataHashOf(card), codeVersion],
    );
    return r.rowCount === 1;
  }

  /**
   * A retrain workflow's candidate, once: the same workflow registering again (a retried activity, a worker
   * restarted mid-run) gets its existing row back.
   */
  async addCandidate(c: { version: string; dir: string; card: ModelCard; codeVersion: string; candidateOf: string }): Promise<RegisteredModel> {
    await this.pool.query(
      `INSERT INTO models (version, status, dir, card, data_hash, code_version, candidate_of)
       VALUES ($1, 'CANDIDATE', $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [c.version, c.dir, JSON.stringify(c.card), dataHashOf(c.card), c.codeVersion, c.candidateOf],
    );
    const row = await this.byCandidateOf(c.candidateOf);
    if (!row) throw new RegistryError(`model version ${c.version} is already registered by another workflow`);
    return row;
  }

  /** Records the gate's evidence on a candidate (any status). */
  async recordEvidence(version: string, metrics: Record<string, unknown>): Promise<void> {
    await this.pool.query('UPDATE models SET metrics = $2 WHERE version = $1', [version, JSON.stringify(metrics)]);
  }

  /** A CANDIDATE the gate refused; a row already decided keeps its status. */
  async reject(version: string, reason: string): Promise<void> {
    await this.pool.query(`UPDATE models SET status = 'REJECTED', reason = $2 WHERE version = $1 AND status = 'CANDIDATE'`, [version, reason]);
  }

  /**
   * Makes `version` the ACTIVE model and retires the one it replaces (its retired_at = this promotion's
   * time, which is how rollback finds it). Refused in live trading for a card that is not promotable
   * unless QT_ALLOW_UNPROVEN_MODEL=true. Promoting the ACTIVE model changes nothing.
   */
  async promote(version: string, by: string, reason: string, guard: PromotionGuard): Promise<RegisteredModel> {
    return this.transaction(async (db) => {
      const target = (await db.query<RegisteredModel>(`SELECT ${COLUMNS} FROM models WHERE version = $1 FOR UPDATE`, [version])).rows[0];
      if (!target) throw new RegistryError(`no model version ${version} in the registry (see qt models list)`);
      if (target.status === 'ACTIVE') return target;
      if (guard.liveTrading && target.card.promotable !== true && !guard.allowUnproven) {
        throw new RegistryError(`${version}: its card says it does not beat the baselines out of sample (promotable: false); ` +
          'live trading refuses it unless QT_ALLOW_UNPROVEN_MODEL=true');
      }
      await db.query(`UPDATE models SET status = 'RETIRED', retired_at = now() WHERE status = 'ACTIVE'`);
      const r = await db.query<RegisteredModel>(
        `UPDATE models SET status = 'ACTIVE', promoted_by = $2, promoted_at = now(), retired_at = NULL,
           reason = CASE WHEN status = 'REJECTED' THEN coalesce(reason, '') || ' | promoted over the gate: ' || $3 ELSE $3 END
         WHERE version = $1 RETURNING ${COLUMNS}`,
        [version, by, reason],
      );
      return r.rows[0]!;
    });
  }

  /** Back to the model the ACTIVE one replaced; the current one is RETIRED. */
  async rollback(by: string, guard: PromotionGuard): Promise<{ from: string; to: string }> {
    const current = await this.active();
    if (!current) throw new RegistryError('no ACTIVE model to roll back from');
    // Compared in SQL: a JS Date would drop the timestamps' microseconds.
    const previous = (await this.pool.query<{ version: string }>(
      `SELECT version FROM models WHERE status = 'RETIRED'
         AND retired_at = (SELECT promoted_at FROM models WHERE version = $1) ORDER BY version LIMIT 1`, [current.version],
    )).rows[0];
    if (!previous) throw new RegistryError(`${current.version} replaced no model: nothing to roll back to`);
    await this.promote(previous.version, by, `rollback from ${current.version}`, guard);
    return { from: current.version, to: previous.version };
  }

  private async transaction<T>(fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
    const db = await this.pool.connect();
    try {
      await db.query('BEGIN');
      const out = await fn(db);
      await db.query('COMMIT');
      return out;
    } catch (err) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      db.release();
    }
  }
}

const dataHashOf = (card: ModelCard): string | null => ((card.data as { hash?: string } | undefined)?.hash ?? null);

/** The code that trained or registers a model: the git commit when in a checkout, else the package version. */
export function codeVersion(root = process.cwd()): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return `git:${commit}${dirty ? '+dirty' : ''}`;
  } catch {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
    return `${pkg.name}@${pkg.version}`;
  }
}
