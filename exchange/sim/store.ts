import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { appendFile, rename, writeFile } from 'node:fs/promises';
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

/** Compact (rewrite the snapshot, empty the journal) after this many journal lines or bytes. */
const COMPACT_AFTER_LINES = 5_000;
const COMPACT_AFTER_BYTES = 16 * 1024 * 1024;

/**
 * Persists the state as a JSON snapshot plus an append-only journal (`<file>.log`, one JSON line per write).
 * A write appends only what changed (new orders and fills, changed algo orders, the small core of wallets,
 * positions and counters), so its cost does not grow with the order history; the snapshot is rewritten
 * atomically (temp file + rename) now and then. Writes are group-committed: every mutation made while a
 * write runs is covered by the next single write. Callers await `flush()` before answering a mutating request,
 * which makes an acknowledged order durable.
 */
export class StateStore {
  private writing: Promise<void> | null = null;
  private pending: Promise<void> | null = null;
  private dirty = false;
  private seq: number;
  private journalLines = 0;
  private journalBytes = 0;
  /** What the journal already holds, to find what changed. */
  private lastOrderId: number;
  private lastTradeId: number;
  private lastFunding: FundingRecord | undefined;
  private lastAlgoId: number;
  private openAlgoIds = new Set<number>();

  constructor(
    private readonly path: string | undefined,
    private readonly state: () => SimState,
    loadedSeq = 0,
  ) {
    if (path) mkdirSync(dirname(path), { recursive: true });
    this.seq = loadedSeq;
    const s = state();
    this.lastOrderId = s.orders.at(-1)?.orderId ?? 0;
    this.lastTradeId = s.fills.at(-1)?.id ?? 0;
    this.lastFunding = s.funding.at(-1);
    this.lastAlgoId = s.algoOrders.at(-1)?.algoId ?? 0;
    for (const a of s.algoOrders) if (a.status === 'NEW') this.openAlgoIds.add(a.algoId);
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

  /** Resolves once every mutation made before the call is on disk. */
  flush(): Promise<void> {
    if (!this.path) return Promise.resolve();
    // Nothing new since the running write took its snapshot: waiting for that write is enough.
    if (!this.dirty) return this.pending ?? this.writing ?? Promise.resolve();
    if (!this.writing) {
      this.writing = this.writeNow().finally(() => (this.writing = null));
      return this.writing;
    }
    // A write is running with an older snapshot: queue exactly one follow-up write for everyone waiting.
    this.pending ??= this.writing.then(() => {
      this.pending = null;
      return this.flush();
    });
    return this.pending;
  }

  private async writeNow(): Promise<void> {
    this.dirty = false;
    const delta = this.collectDelta();
    if (this.journalLines === 0 || this.journalLines >= COMPACT_AFTER_LINES || this.journalBytes >= COMPACT_AFTER_BYTES) {
      const data = JSON.stringify({ ...this.state(), seq: delta.seq });
      const tmp = `${this.path}.tmp`;
      await writeFile(tmp, data);
      await rename(tmp, this.path!);
      // The snapshot holds everything up to `seq`; older journal lines are skipped on load.
      await writeFile(`${this.path}.log`, '');
      this.journalLines = 1;
      this.journalBytes = 0;
      return;
    }
    const line = `${JSON.stringify(delta)}\n`;
    await appendFile(`${this.path}.log`, line);
    this.journalLines++;
    this.journalBytes += line.length;
  }

  /** Records created or changed since the last write, found from the id counters (orders and fills only grow). */
  private collectDelta(): Delta {
    const s = this.state();
    const { orders, fills, algoOrders, funding, ...core } = s;
    const newOrders = tailAfter(orders, (o) => o.orderId > this.lastOrderId);
    const newFills = tailAfter(fills, (f) => f.id > this.lastTradeId);
    const fundingStart = this.lastFunding ? funding.lastIndexOf(this.lastFunding) + 1 : 0;
    const newFunding = funding.slice(fundingStart);
    // Algo orders change status in place: log the new ones and the ones open at the last write that changed.
    const changedAlgos = tailAfter(algoOrders, (a) => a.algoId > this.lastAlgoId);
    for (const a of changedAlgos) if (a.status === 'NEW') this.openAlgoIds.add(a.algoId);
    for (const id of [...this.openAlgoIds]) {
      const a = findById(algoOrders, id);
      if (a && a.status === 'NEW') continue;
      this.openAlgoIds.delete(id);
      if (a && a.algoId <= this.lastAlgoId) changedAlgos.push(a);
    }
    this.lastOrderId = orders.at(-1)?.orderId ?? this.lastOrderId;
    this.lastTradeId = fills.at(-1)?.id ?? this.lastTradeId;
    this.lastFunding = funding.at(-1) ?? this.lastFunding;
    this.lastAlgoId = algoOrders.at(-1)?.algoId ?? this.lastAlgoId;
    // No copy needed: the delta is serialized before anything else can run.
    return { seq: ++this.seq, core, orders: newOrders, fills: newFills, algoOrders: changedAlgos, funding: newFunding };
  }
}

/** The trailing elements of an id-ordered array that satisfy `isNew`. */
function tailAfter<T>(list: T[], isNew: (x: T) => boolean): T[] {
  let i = list.length;
  while (i > 0 && isNew(list[i - 1]!)) i--;
  return list.slice(i);
}

/** Binary search in a list ordered by algoId. */
function findById(list: AlgoRecord[], id: number): AlgoRecord | undefined {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = list[mid]!.algoId;
    if (x === id) return list[mid];
    if (x < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

function applyDelta(s: SimState, d: Delta): void {
  Object.assign(s, d.core);
  const lastOrder = s.orders.at(-1)?.orderId ?? 0;
  s.orders.push(...d.orders.filter((o) => o.orderId > lastOrder));
  const lastFill = s.fills.at(-1)?.id ?? 0;
  s.fills.push(...d.fills.filter((f) => f.id > lastFill));
  s.funding.push(...d.funding);
  const index = new Map(s.algoOrders.map((a, i) => [a.algoId, i]));
  for (const a of d.algoOrders) {
    const i = index.get(a.algoId);
    if (i === undefined) {
      index.set(a.algoId, s.algoOrders.length);
      s.algoOrders.push(a);
    } else s.algoOrders[i] = a;
  }
}
