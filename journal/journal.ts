import pg from 'pg';
import { migrate } from './migrate.js';
import { pnlReport, type PnlGrouping, type PnlReport } from './pnl-report.js';
import type {
  BookedFill, FillRow, GlobalKill, OpenPositionSummary, BookedOrder, OrderRow, PnlSummary, PositionClose,
  PositionOpen, PositionRow, RiskEvent, SignalRecord, SignalRow, SignalWriteResult, TimeInput,
} from './types.js';

const NUMERIC_OID = 1700;
const INT8_OID = 20;

/** NUMERIC and bigint come back as JS numbers: amounts here stay far inside double precision. */
const numericTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === NUMERIC_OID || oid === INT8_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

const toDate = (t: TimeInput): Date => (t instanceof Date ? t : new Date(t));

const GLOBAL_KILL_KEY = 'global_kill';

const entryCandle = (row: PositionOpen): Date | null => (row.entryCandleTime == null ? null : new Date(row.entryCandleTime));

const POSITION_COLUMNS = `position_id AS "positionId", workflow_id AS "workflowId", symbol, side, status, quantity,
  entry_price AS "entryPrice", entry_fee AS "entryFee", opened_at AS "openedAt", stop_price AS "stopPrice",
  take_profit_price AS "takeProfitPrice", exit_price AS "exitPrice", exit_reason AS "exitReason",
  exit_fee AS "exitFee", gross_pnl AS "grossPnl", net_pnl AS "netPnl", closed_at AS "closedAt", model_version AS "modelVersion"`;

const ORDER_COLUMNS = `client_order_id AS "clientOrderId", symbol, position_id AS "positionId", purpose, side, type,
  quantity, status, exchange_order_id AS "exchangeOrderId", avg_price AS "avgPrice", executed_qty AS "executedQty",
  reduce_only AS "reduceOnly", created_at AS "createdAt", updated_at AS "updatedAt"`;

const FILL_COLUMNS = `symbol, trade_id AS "tradeId", order_id AS "orderId", client_order_id AS "clientOrderId",
  position_id AS "positionId", side, price, qty, quote_qty AS "quoteQty", commission,
  commission_asset AS "commissionAsset", realized_pnl AS "realizedPnl", time`;

/**
 * The trading journal in Postgres. Every write is idempotent on a natural key, because the
 * activities that call it are retried: booking the same tick, order, fill or position twice
 * changes nothing.
 */
export class Journal {
  private constructor(readonly pool: pg.Pool) {}

  static async connect(url: string, options: { max?: number; connectTimeoutMs?: number } = {}): Promise<Journal> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 10,
      types: numericTypes,
      // Without these a stopped or unreachable server makes a query wait forever (pg's default).
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      query_timeout: 15_000,
    });
    // An idle client losing its server (restart) must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    await pool.query('SELECT 1');
    return new Journal(pool);
  }

  /** Applies pending migrations; returns the versions applied by this call. */
  migrate(): Promise<number[]> {
    return this.withClient((client) => migrate(client));
  }

  /**
   * A client checked out for a transaction. pg emits 'error' on a checked-out client whose server goes
   * away, and nothing listens to it then: without this listener a Postgres restart would crash the
   * process. The broken client is discarded instead of returned to the pool.
   */
  private async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (err) {
      broken ??= err instanceof Error && /terminat|ECONN|closed/i.test(err.message) ? err : undefined;
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Books one tick's signal and decision; false when its key was already booked. */
  async recordSignal(row: SignalRecord): Promise<boolean> {
    return (await this.recordSignals([row])).inserted === 1;
  }

  /**
   * Books ticks' signals and decisions, keyed by (symbol, run id, tick seq). A key already booked with the same
   * decision is a retry and counts as a duplicate; when it comes from a later workflow task, its details (clock,
   * confidence, price) replace the earlier task's, which never completed. A key booked with a *different* decision
   * by an earlier workflow task (`taskEvent`: where the task started in the history; rows without it: an earlier
   * `at`, the workflow's clock) was written by a task that never completed (its worker died after the write): the
   * later decision is the one in history and replaces it (`superseded`). The task, not the clock, decides when both
   * are known: a task can read its clock from history (a heartbeat of the lost task recorded it) and then decide
   * again with the same `at`.
   * Any other difference cannot come from a retry or a re-run: the row is kept in a SIGNAL_KEY_COLLISION
   * risk event rather than dropped, and counted in `collisions` so the caller can raise it.
   */
  async recordSignals(rows: SignalRecord[]): Promise<SignalWriteResult> {
    const result: SignalWriteResult = { inserted: 0, duplicates: 0, superseded: 0, collisions: 0 };
    if (rows.length === 0) return result;
    const columns = 17;
    const values: unknown[] = [];
    const tuples = rows.map((row, i) => {
      values.push(row.workflowId, row.symbol, row.seq, toDate(row.candleTime), row.signal, row.confidence, row.probHold,
        row.probBuy, row.probSell, row.model, row.price, row.decision, row.reason, toDate(row.at), row.instanceId ?? '', row.runId ?? '', row.taskEvent ?? null);
      return `(${Array.from({ length: columns }, (_, c) => `$${i * columns + c + 1}`).join(', ')})`;
    });
    const inserted = await this.pool.query<{ symbol: string; run_id: string; seq: number }>(
      `INSERT INTO signals (workflow_id, symbol, seq, candle_time, signal, confidence, prob_hold, prob_buy, prob_sell,
         model, price, decision, reason, at, instance_id, run_id, task_event)
       VALUES ${tuples.join(', ')}
       ON CONFLICT (symbol, run_id, seq) DO NOTHING
       RETURNING symbol, run_id, seq`,
      values,
    );
    result.inserted = inserted.rowCount ?? 0;
    const key = (symbol: string, runId: string, seq: number) => `${symbol}|${runId}|${seq}`;
    const fresh = new Set(inserted.rows.map((r) => key(r.symbol, r.run_id, r.seq)));
    const conflicting = rows.filter((r) => !fresh.has(key(r.symbol, r.runId ?? '', r.seq)));
    for (const row of conflicting) {
      const existing = await this.pool.query<{ decision: string; signal: string; candle_time: Date; at: Date; task_event: number | null }>(
        'SELECT decision, signal, candle_time, at, task_event FROM signals WHERE symbol = $1 AND run_id = $2 AND seq = $3',
        [row.symbol, row.runId ?? '', row.seq],
      );
      const prior = existing.rows[0];
      // Whether this row comes from a later workflow task than the booked one; null when either task is unknown.
      const laterByTask = prior?.task_event != null && row.taskEvent != null ? prior.task_event < row.taskEvent : null;
      if (prior && prior.decision === row.decision && prior.signal === row.signal && prior.candle_time.getTime() === toDate(row.candleTime).getTime()) {
        // The same decision from a later task (a pass run again after its worker died): the row takes the run that
        // became history (its clock, confidence, price), so the journal dates the pass when the loop really ticked.
        if (laterByTask) await this.supersedeSignal(row);
        result.duplicates++;
        continue;
      }
      const laterTask = prior && (laterByTask ?? prior.at.getTime() < toDate(row.at).getTime());
      if (laterTask && (await this.supersedeSignal(row))) {
        result.superseded++;
        continue;
      }
      result.collisions++;
      await this.recordRiskEvent({ kind: 'SIGNAL_KEY_COLLISION', symbol: row.symbol, detail: { kept: prior ?? null, refused: { ...row, candleTime: toDate(row.candleTime), at: toDate(row.at) } } });
    }
    return result;
  }

  /** Replaces the row of a decision that never became history (see recordSignals); false when it is not older. */
  private async supersedeSignal(row: SignalRecord): Promise<boolean> {
    const updated = await this.pool.query(
      `UPDATE signals SET workflow_id = $4, candle_time = $5, signal = $6, confidence = $7, prob_hold = $8, prob_buy = $9,
         prob_sell = $10, model = $11, price = $12, decision = $13, reason = $14, at = $15, instance_id = $16, task_event = $17
       WHERE symbol = $1 AND run_id = $2 AND seq = $3
         AND (CASE WHEN task_event IS NOT NULL AND $17::integer IS NOT NULL THEN task_event < $17::integer ELSE at < $15 END)`,
      [row.symbol, row.runId ?? '', row.seq, row.workflowId, toDate(row.candleTime), row.signal, row.confidence, row.probHold,
        row.probBuy, row.probSell, row.model, row.price, row.decision, row.reason, toDate(row.at), row.instanceId ?? '', row.taskEvent ?? null],
    );
    return (updated.rowCount ?? 0) === 1;
  }

  /**
   * Inserts or updates an order by client order id. An update older than the stored one is
   * ignored, so a late retry cannot turn a FILLED order back into NEW.
   */
  async upsertOrder(row: BookedOrder): Promise<void> {
    const updatedAt = toDate(row.updatedAt);
    await this.pool.query(
      `INSERT INTO orders (client_order_id, symbol, position_id, purpose, side, type, quantity, status,
         exchange_order_id, avg_price, executed_qty, reduce_only, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
       ON CONFLICT (client_order_id) DO UPDATE SET
         status = EXCLUDED.status,
         quantity = COALESCE(EXCLUDED.quantity, orders.quantity),
         exchange_order_id = COALESCE(EXCLUDED.exchange_order_id, orders.exchange_order_id),
         avg_price = COALESCE(EXCLUDED.avg_price, orders.avg_price),
         executed_qty = COALESCE(EXCLUDED.executed_qty, orders.executed_qty),
         position_id = COALESCE(orders.position_id, EXCLUDED.position_id),
         updated_at = EXCLUDED.updated_at
       WHERE orders.updated_at <= EXCLUDED.updated_at`,
      [row.clientOrderId, row.symbol, row.positionId, row.purpose, row.side, row.type, row.quantity, row.status,
        row.exchangeOrderId === null ? null : String(row.exchangeOrderId), row.avgPrice, row.executedQty,
        row.reduceOnly, updatedAt],
    );
  }

  /** Books exchange fills; returns how many were new ((symbol, tradeId) already booked is skipped). */
  async recordFills(fills: BookedFill[]): Promise<number> {
    if (fills.length === 0) return 0;
    const columns = 13;
    const values: unknown[] = [];
    const tuples = fills.map((fill, i) => {
      values.push(fill.symbol, fill.tradeId, fill.orderId, fill.clientOrderId, fill.positionId, fill.side, fill.price,
        fill.qty, fill.quoteQty, fill.commission, fill.commissionAsset, fill.realizedPnl, new Date(fill.time));
      return `(${Array.from({ length: columns }, (_, c) => `$${i * columns + c + 1}`).join(', ')})`;
    });
    const result = await this.pool.query(
      `INSERT INTO fills (symbol, trade_id, order_id, client_order_id, position_id, side, price, qty, quote_qty,
         commission, commission_asset, realized_pnl, time)
       VALUES ${tuples.join(', ')}
       ON CONFLICT (symbol, trade_id) DO NOTHING`,
      values,
    );
    return result.rowCount ?? 0;
  }

  /** Books an opened position; false when it was already booked. */
  async openPosition(row: PositionOpen): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO positions (position_id, workflow_id, symbol, side, quantity, entry_price, entry_fee, opened_at,
         stop_price, take_profit_price, model_version, entry_candle_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (position_id) DO NOTHING`,
      [row.positionId, row.workflowId, row.symbol, row.side, row.quantity, row.entryPrice, row.entryFee,
        toDate(row.openedAt), row.stopPrice, row.takeProfitPrice, row.modelVersion ?? null, entryCandle(row)],
    );
    return result.rowCount === 1;
  }

  /** Closes an open position; false when it is unknown or already closed (the first close wins). */
  async closePosition(row: PositionClose): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE positions SET status = 'CLOSED', exit_price = $2, exit_reason = $3, exit_fee = $4, gross_pnl = $5,
         net_pnl = $6, closed_at = $7
       WHERE position_id = $1 AND status = 'OPEN'`,
      [row.positionId, row.exitPrice, row.exitReason, row.exitFee, row.grossPnl, row.netPnl, toDate(row.closedAt)],
    );
    return result.rowCount === 1;
  }

  /**
   * Books a position's entry, or corrects it while the position is open: the row follows the exchange's
   * fills (an entry journaled with its order's numbers before its trades were readable gets their fee and
   * price once they are). Idempotent.
   */
  async recordEntry(row: PositionOpen): Promise<void> {
    await this.pool.query(
      `INSERT INTO positions (position_id, workflow_id, symbol, side, quantity, entry_price, entry_fee, opened_at,
         stop_price, take_profit_price, model_version, entry_candle_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (position_id) DO UPDATE SET quantity = EXCLUDED.quantity, entry_price = EXCLUDED.entry_price,
         entry_fee = EXCLUDED.entry_fee, stop_price = COALESCE(EXCLUDED.stop_price, positions.stop_price),
         take_profit_price = COALESCE(EXCLUDED.take_profit_price, positions.take_profit_price),
         model_version = COALESCE(EXCLUDED.model_version, positions.model_version),
         entry_candle_time = COALESCE(EXCLUDED.entry_candle_time, positions.entry_candle_time)
       WHERE positions.status = 'OPEN'`,
      [row.positionId, row.workflowId, row.symbol, row.side, row.quantity, row.entryPrice, row.entryFee,
        toDate(row.openedAt), row.stopPrice, row.takeProfitPrice, row.modelVersion ?? null, entryCandle(row)],
    );
  }

  /**
   * Claim an armed exit's client order id for a send from a worker's mark stream: true for the first claim only,
   * across workers and restarts (the exchange accepts a filled order's id again, so it cannot be the guard).
   */
  async claimArmedExit(clientOrderId: string): Promise<boolean> {
    const r = await this.pool.query('INSERT INTO armed_exit_claims (client_order_id) VALUES ($1) ON CONFLICT DO NOTHING', [clientOrderId]);
    return r.rowCount === 1;
  }

  /** Books a risk event once per key, however often a retried activity writes it; false when already booked. */
  async recordRiskEventOnce(key: string, event: RiskEvent): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO risk_events (kind, symbol, detail, event_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (event_key) WHERE event_key IS NOT NULL DO NOTHING`,
      [event.kind, event.symbol ?? null, JSON.stringify(event.detail ?? {}), key],
    );
    return result.rowCount === 1;
  }

  async getPosition(positionId: string): Promise<PositionRow | null> {
    const result = await this.pool.query<PositionRow>(`SELECT ${POSITION_COLUMNS} FROM positions WHERE position_id = $1`, [positionId]);
    return result.rows[0] ?? null;
  }

  async fillsForPosition(positionId: string): Promise<FillRow[]> {
    const result = await this.pool.query<FillRow>(
      `SELECT ${FILL_COLUMNS} FROM fills WHERE position_id = $1 ORDER BY time, trade_id`,
      [positionId],
    );
    return result.rows;
  }

  // --- risk state ---

  async getGlobalKill(): Promise<GlobalKill> {
    const result = await this.pool.query<{ value: { on: boolean; reason: string | null; at: string } }>(
      'SELECT value FROM risk_state WHERE key = $1',
      [GLOBAL_KILL_KEY],
    );
    const value = result.rows[0]?.value;
    return value ? { on: value.on, reason: value.reason, at: new Date(value.at) } : { on: false, reason: null, at: null };
  }

  /**
   * Persists the global kill switch and records the change as a risk event. Setting the state it
   * already has (the same switch and reason, written again by a retry or by a second writer) changes
   * nothing and records nothing.
   */
  async setGlobalKill(on: boolean, reason: string | null = null): Promise<GlobalKill> {
    const state = { on, reason, at: new Date() };
    return this.withClient(async (client) => {
      try {
        await client.query('BEGIN');
        const current = await client.query<{ value: { on: boolean; reason: string | null; at: string } }>(
          'SELECT value FROM risk_state WHERE key = $1 FOR UPDATE',
          [GLOBAL_KILL_KEY],
        );
        const prior = current.rows[0]?.value;
        if (prior && prior.on === on && prior.reason === reason) {
          await client.query('COMMIT');
          return { on, reason, at: new Date(prior.at) };
        }
        await client.query(
          `INSERT INTO risk_state (key, value, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
          [GLOBAL_KILL_KEY, JSON.stringify(state), state.at],
        );
        await client.query('INSERT INTO risk_events (at, kind, detail) VALUES ($1, $2, $3)', [
          state.at, on ? 'GLOBAL_KILL' : 'GLOBAL_RESUME', JSON.stringify({ reason }),
        ]);
        await client.query('COMMIT');
        return state;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async recordRiskEvent(event: RiskEvent): Promise<void> {
    await this.pool.query('INSERT INTO risk_events (kind, symbol, detail) VALUES ($1, $2, $3)', [
      event.kind, event.symbol ?? null, JSON.stringify(event.detail ?? {}),
    ]);
  }

  async riskEvents(limit = 50, kind?: string): Promise<{ at: Date; kind: string; symbol: string | null; detail: Record<string, unknown> }[]> {
    const result = await this.pool.query(
      'SELECT at, kind, symbol, detail FROM risk_events WHERE ($2::text IS NULL OR kind = $2) ORDER BY at DESC, id DESC LIMIT $1',
      [limit, kind ?? null],
    );
    return result.rows;
  }

  /** Net P&L (after fees) of positions closed at or after `since`; 0 when none. */
  async realizedPnlSince(since: TimeInput): Promise<number> {
    const result = await this.pool.query<{ pnl: number }>(
      `SELECT COALESCE(SUM(net_pnl), 0) AS pnl FROM positions WHERE status = 'CLOSED' AND closed_at >= $1`,
      [toDate(since)],
    );
    return result.rows[0]!.pnl;
  }

  async openPositions(): Promise<OpenPositionSummary[]> {
    const result = await this.pool.query<OpenPositionSummary>(
      `SELECT position_id AS "positionId", symbol, side, quantity, entry_price AS "entryPrice",
         quantity * entry_price AS notional, opened_at AS "openedAt"
       FROM positions WHERE status = 'OPEN' ORDER BY opened_at`,
    );
    return result.rows;
  }

  // --- read side for the client ---

  /** Signals of the last `sinceMs` milliseconds (a duration: 300_000 = the last 5 minutes), newest first. */
  async recentSignals(query: { sinceMs: number; symbol?: string; limit?: number; now?: Date }): Promise<SignalRow[]> {
    const since = new Date((query.now ?? new Date()).getTime() - query.sinceMs);
    const result = await this.pool.query<SignalRow>(
      `SELECT workflow_id AS "workflowId", symbol, seq, candle_time AS "candleTime", signal, confidence,
         prob_hold AS "probHold", prob_buy AS "probBuy", prob_sell AS "probSell", model, price, decision, reason, at,
         instance_id AS "instanceId", run_id AS "runId"
       FROM signals WHERE at >= $1 AND ($2::text IS NULL OR symbol = $2)
       ORDER BY at DESC, id DESC LIMIT $3`,
      [since, query.symbol ?? null, query.limit ?? 1000],
    );
    return result.rows;
  }

  /** Orders, most recently updated first. */
  async orders(query: { limit?: number; symbol?: string } = {}): Promise<OrderRow[]> {
    const result = await this.pool.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE ($1::text IS NULL OR symbol = $1) ORDER BY updated_at DESC LIMIT $2`,
      [query.symbol ?? null, query.limit ?? 50],
    );
    return result.rows;
  }

  /** Orders of one position, oldest first. */
  async ordersForPosition(positionId: string): Promise<OrderRow[]> {
    const result = await this.pool.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE position_id = $1 ORDER BY created_at`, [positionId]);
    return result.rows;
  }

  /** Positions, newest opened first. */
  async positions(query: { status?: 'open' | 'closed' | 'all'; limit?: number; symbol?: string } = {}): Promise<PositionRow[]> {
    const status = query.status === 'open' ? 'OPEN' : query.status === 'closed' ? 'CLOSED' : null;
    const result = await this.pool.query<PositionRow>(
      `SELECT ${POSITION_COLUMNS} FROM positions
       WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR symbol = $2)
       ORDER BY opened_at DESC LIMIT $3`,
      [status, query.symbol ?? null, query.limit ?? 50],
    );
    return result.rows;
  }

  /** Realized P&L since a time (per UTC day or symbol) and the open positions at their last journaled price. */
  pnlReport(query: { since?: Date | null; by?: PnlGrouping | null } = {}): Promise<PnlReport> {
    return pnlReport(this.pool, query);
  }

  async pnlSummary(now: Date = new Date()): Promise<PnlSummary> {
    const startOfDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const totals = await this.pool.query(
      `SELECT
         COALESCE(SUM(net_pnl) FILTER (WHERE status = 'CLOSED'), 0) AS "realizedNet",
         COALESCE(SUM(gross_pnl) FILTER (WHERE status = 'CLOSED'), 0) AS "realizedGross",
         COALESCE(SUM(entry_fee + exit_fee) FILTER (WHERE status = 'CLOSED'), 0) AS fees,
         COUNT(*) FILTER (WHERE status = 'CLOSED') AS "closedPositions",
         COUNT(*) FILTER (WHERE status = 'CLOSED' AND net_pnl > 0) AS wins,
         COUNT(*) FILTER (WHERE status = 'CLOSED' AND net_pnl <= 0) AS losses,
         COUNT(*) FILTER (WHERE status = 'OPEN') AS "openPositions",
         COALESCE(SUM(net_pnl) FILTER (WHERE status = 'CLOSED' AND closed_at >= $1), 0) AS "todayNet"
       FROM positions`,
      [startOfDay],
    );
    const bySymbol = await this.pool.query(
      `SELECT symbol, COUNT(*) AS "closedPositions", SUM(net_pnl) AS "realizedNet"
       FROM positions WHERE status = 'CLOSED' GROUP BY symbol ORDER BY symbol`,
    );
    return { ...totals.rows[0], bySymbol: bySymbol.rows } as PnlSummary;
  }
}
