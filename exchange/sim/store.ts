import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AlgoRecord, FillRecord, FundingRecord, OrderRecord, SimState } from './state.js';

/** The small, always-rewritten part of the state. */
type Core = Omit<SimState, 'orders' | 'fills' | 'algoOrders' | 'funding'>;

/** One journal line: the core as a whole, plus the records created or changed since the previous line. */
interface Delta {
  seq: number;
  core: Core;
  orders: OrderRecord[];
  fills: FillRecord[];
  algoOrders: AlgoRecord[];
  funding: FundingRecord[];
}

/** What the journal already holds; advanced only once a write is on disk. */
interface Marks {
  seq: number;
  lastOrderId: number;
  lastTradeId: number;
  lastFunding: FundingRecord | undefined;
  lastAlgoId: number;
  /** Orders and algo orders still open at the last write: they change in place and are logged when they do. */
  openOrderIds: Set<number>;
  openAlgoIds: Set<number>;
}

export interface StoreStatus {
  file: string | null;
  writes: number;
  failedWrites: number;
  lastError: string | null;
}

/** Compact (rewrite the snapshot, empty the journal) after this many journal lines or bytes. */
const COMPACT_AFTER_LINES = 5_000;
const COMPACT_AFTER_BYTES = 16 * 1024 * 1024;

/**
 * Persists the state as a JSON snapshot plus an append-only journal (`<file>.log`, one JSON line per write).
 * A write appends only what changed (new orders and fills, orders and algo orders that changed, the small
 * core of wallets, positions and counters), so its cost does not grow with the order history; the snapshot
 * is rewritten atomically (temp file + fsync + rename + fsync of the directory) now and then.
 *
 * Durability: every write is fsynced before `flush()` resolves, and callers await `flush()` before answering
 * a mutating request, so an acknowledged order survives a crash of the process or of the machine. Writes are
 * group-committed: every mutation made while a write runs is covered by the next single write.
 *
 * Failure: a failed write rejects its `flush()` and changes nothing the store believes is on disk, so the
 * next write carries the same changes again (counters and the records they count always travel in the same
 * line or snapshot: never a counter ahead of its records). After a failed append the next write is a full
 * snapshot, so a torn journal line cannot hide later lines.
 */
export class StateStore {
  private writing: Promise<void> | null = null;
  private pending: Promise<void> | null = null;
  private dirty = false;
  private marks: Marks;
  private journalLines = 0;
  private journalBytes = 0;
  private needSnapshot = true;
  private readonly stats: StoreStatus;

  constructor(
    private readonly path: string | undefined,
    private readonly state: () => SimState,
    loadedSeq = 0,
  ) {
    if (path) mkdirSync(dirname(path), { recursive: true });
    const s = state();
    this.marks = {
      seq: loadedSeq,
      lastOrderId: s.orders.at(-1)?.orderId ?? 0,
      lastTradeId: s.fills.at(-1)?.id ?? 0,
      lastFunding: s.funding.at(-1),
      lastAlgoId: s.algoOrders.at(-1)?.algoId ?? 0,
      openOrderIds: new Set(s.orders.filter((o) => o.status === 'NEW' || o.status === 'PARTIALLY_FILLED').map((o) => o.orderId)),
      openAlgoIds: new Set(s.algoOrders.filter((a) => a.status === 'NEW').map((a) => a.algoId)),
    };
    this.stats = { file: path ?? null, writes: 0, failedWrites: 0, lastError: null };
    // Start every run from a fresh snapshot, so the journal only ever holds this run's changes.
    if (path) this.dirty = true;
  }

  /** Snapshot plus journal; the `seq` of the last change applied. */
  static load(path: string | undefined): { state: SimState; seq: number } | null {
    if (!path || !existsSync(path)) return null;
    const snapshot = JSON.parse(readFileSync(path, 'utf8')) as SimState & { seq?: number };
    if (snapshot.version !== 1) throw new Error(`${path}: unsupported state version ${String(snapshot.version)}`);
    let seq = snapshot.seq ?? 0;
    delete snapshot.seq;
    const journal = `${path}.log`;
    if (existsSync(journal)) {
      for (const line of readFileSync(journal, 'utf8').split('\n')) {
        if (!line) continue;
        let d: Delta;
        try {
          d = JSON.parse(line) as Delta;
        } catch {
          break; // a torn last line from a crash mid-append: everything before it is intact
        }
        if (d.seq <= seq) continue; // already inside the snapshot
        applyDelta(snapshot, d);
        seq = d.seq;
      }
    }
    return { state: snapshot, seq };
  }

  markDirty(): void {
    this.dirty = true;
  }

  status(): StoreStatus {
    return { ...this.stats };
  }

  /** Resolves once every mutation made before the call is on disk; rejects when that write failed. */
  flush(): Promise<void> {
    if (!this.path) return Promise.resolve();
    // Nothing new since the running write took its snapshot: waiting for that write is enough.
    if (!this.dirty) return this.pending ?? this.writing ?? Promise.resolve();
    if (!this.writing) {
      this.writing = this.writeNow().finally(() => (this.writing = null));
      return this.writing;
    }
    // A write is running with an older snapshot: queue exactly one follow-up write for everyone waiting.
    // It runs whether the running write succeeded or not.
    this.pending ??= this.writing
      .catch(() => undefined)
      .then(() => {
        this.pending = null;
        return this.flush();
      });
    return this.pending;
  }

  private async writeNow(): Promise<void> {
    this.dirty = false;
    const { delta, marks } = this.collectDelta();
    const compact = this.needSnapshot || this.journalLines >= COMPACT_AFTER_LINES || this.journalBytes >= COMPACT_AFTER_BYTES;
    try {
      if (compact) await this.writeSnapshot(JSON.stringify({ ...this.state(), seq: delta.seq }));
      else await this.append(`${JSON.stringify(delta)}\n`);
    } catch (e) {
      // Nothing counts as written: the same changes go into the next write, which is a full snapshot.
      this.dirty = true;
      this.needSnapshot = true;
      this.stats.failedWrites++;
      this.stats.lastError = (e as Error).message;
      throw e;
    }
    this.marks = marks;
    this.stats.writes++;
    this.stats.lastError = null;
  }

  /** The snapshot holds everything up to its `seq`; older journal lines are skipped on load. */
  private async writeSnapshot(data: string): Promise<void> {
    const file = this.path!;
    const tmp = `${file}.tmp`;
    await writeSynced(tmp, data, 'w');
    await rename(tmp, file);
    await syncDirectory(dirname(file));
    await writeSynced(`${file}.log`, '', 'w');
    this.journalLines = 1;
    this.journalBytes = 0;
    this.needSnapshot = false;
  }

  /** Opened per write (a few microseconds next to the fsync): a file that went away is noticed at once. */
  private async append(line: string): Promise<void> {
    await writeSynced(`${this.path}.log`, line, 'a');
    this.journalLines++;
    this.journalBytes += line.length;
  }

  /** Records created or changed since the last write (found from the id counters and the open sets). */
  private collectDelta(): { delta: Delta; marks: Marks } {
    const s = this.state();
    const m = this.marks;
    const { orders, fills, algoOrders, funding, ...core } = s;
    const newOrders = tailAfter(orders, (o) => o.orderId > m.lastOrderId);
    const newFills = tailAfter(fills, (f) => f.id > m.lastTradeId);
    const fundingStart = m.lastFunding ? funding.lastIndexOf(m.lastFunding) + 1 : 0;
    const newFunding = funding.slice(fundingStart);
    const newAlgos = tailAfter(algoOrders, (a) => a.algoId > m.lastAlgoId);
    const orderChanges = changedInPlace(orders, (o) => o.orderId, m.openOrderIds, m.lastOrderId, newOrders, (o) => o.status === 'NEW' || o.status === 'PARTIALLY_FILLED');
    const algoChanges = changedInPlace(algoOrders, (a) => a.algoId, m.openAlgoIds, m.lastAlgoId, newAlgos, (a) => a.status === 'NEW');
    const marks: Marks = {
      seq: m.seq + 1,
      lastOrderId: orders.at(-1)?.orderId ?? m.lastOrderId,
      lastTradeId: fills.at(-1)?.id ?? m.lastTradeId,
      lastFunding: funding.at(-1) ?? m.lastFunding,
      lastAlgoId: algoOrders.at(-1)?.algoId ?? m.lastAlgoId,
      openOrderIds: orderChanges.stillOpen,
      openAlgoIds: algoChanges.stillOpen,
    };
    // No copy needed: the delta is serialized before anything else can run.
    const delta = { seq: marks.seq, core, orders: [...orderChanges.changed, ...newOrders], fills: newFills, algoOrders: [...algoChanges.changed, ...newAlgos], funding: newFunding };
    return { delta, marks };
  }
}

async function writeSynced(file: string, data: string, flags: string): Promise<void> {
  const fh = await open(file, flags);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Makes a rename in `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Records that were open at the last write and have changed since (they change in place), and the set of
 * ids open after this write (old ones still open plus new open ones).
 */
function changedInPlace<T>(list: T[], idOf: (x: T) => number, openIds: Set<number>, lastId: number, added: T[], isOpen: (x: T) => boolean): { changed: T[]; stillOpen: Set<number> } {
  const changed: T[] = [];
  const stillOpen = new Set<number>();
  for (const id of openIds) {
    const x = findById(list, idOf, id);
    if (x && isOpen(x)) stillOpen.add(id);
    else if (x && id <= lastId) changed.push(x);
  }
  for (const x of added) if (isOpen(x)) stillOpen.add(idOf(x));
  return { changed, stillOpen };
}

/** The trailing elements of an id-ordered array that satisfy `isNew`. */
function tailAfter<T>(list: T[], isNew: (x: T) => boolean): T[] {
  let i = list.length;
  while (i > 0 && isNew(list[i - 1]!)) i--;
  return list.slice(i);
}

/** Binary search in a list ordered by id. */
function findById<T>(list: T[], idOf: (x: T) => number, id: number): T | undefined {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = idOf(list[mid]!);
    if (x === id) return list[mid];
    if (x < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** Replaces records with a known id, appends the others. */
function upsert<T>(list: T[], idOf: (x: T) => number, records: T[]): void {
  const index = new Map(list.map((x, i) => [idOf(x), i]));
  for (const r of records) {
    const i = index.get(idOf(r));
    if (i === undefined) {
      index.set(idOf(r), list.length);
      list.push(r);
    } else list[i] = r;
  }
}

function applyDelta(s: SimState, d: Delta): void {
  Object.assign(s, d.core);
  upsert(s.orders, (o) => o.orderId, d.orders);
  const lastFill = s.fills.at(-1)?.id ?? 0;
  s.fills.push(...d.fills.filter((f) => f.id > lastFill));
  s.funding.push(...d.funding);
  upsert(s.algoOrders, (a) => a.algoId, d.algoOrders);
}
