import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SimState } from './state.js';

/**
 * Persists the state as one JSON file, atomically (temp file + rename). Writes are group-committed: every
 * mutation that happens while a write is running is covered by the next single write, so a burst of orders
 * costs a few writes, not one each. Callers await `flush()` before answering a mutating request, which makes
 * an acknowledged order durable.
 */
export class StateStore {
  private writing: Promise<void> | null = null;
  private pending: Promise<void> | null = null;
  private dirty = false;

  constructor(
    private readonly path: string | undefined,
    private readonly snapshot: () => SimState,
  ) {
    if (path) mkdirSync(dirname(path), { recursive: true });
  }

  static load(path: string | undefined): SimState | null {
    if (!path || !existsSync(path)) return null;
    const state = JSON.parse(readFileSync(path, 'utf8')) as SimState;
    if (state.version !== 1) throw new Error(`${path}: unsupported state version ${String(state.version)}`);
    return state;
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
    const data = JSON.stringify(this.snapshot());
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, this.path!);
  }
}
