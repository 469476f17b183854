import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USDMClient } from 'binance';
import { BinanceFuturesAdapter } from '../../exchange/adapter.js';
import { startLocalExchange, type LocalExchange, type LocalExchangeOptions } from '../../exchange/sim/server.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/exchange', import.meta.url));
/** 2025-08-01T12:00Z: inside the fixture slice (2025-08-01 and 2025-08-02). */
export const FIXTURE_START = Date.UTC(2025, 7, 1, 12);

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'qt-exchange-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A wall clock the test moves by hand. */
export class ManualClock {
  constructor(public t = 1_800_000_000_000) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function adapterFor(ex: LocalExchange, overrides: Partial<ConstructorParameters<typeof BinanceFuturesAdapter>[0]> = {}): BinanceFuturesAdapter {
  return new BinanceFuturesAdapter({ venue: 'paper', baseUrl: ex.baseUrl, apiKey: ex.apiKey, apiSecret: ex.apiSecret, timeoutMs: 3000, ...overrides });
}

/** The raw binance client, for requests the adapter never makes (malformed on purpose). */
export function rawClient(ex: LocalExchange, keys: { key?: string; secret?: string } = {}): USDMClient {
  return new USDMClient({ api_key: keys.key ?? ex.apiKey, api_secret: keys.secret ?? ex.apiSecret, baseUrl: ex.baseUrl, parseExceptions: false }, { timeout: 3000 });
}

export async function manualExchange(extra: Partial<LocalExchangeOptions> = {}): Promise<{ ex: LocalExchange; adapter: BinanceFuturesAdapter; stateFile: string; cleanup: () => Promise<void> }> {
  const tmp = tempDir();
  const stateFile = join(tmp.dir, 'state.json');
  const ex = await startLocalExchange({
    port: 0,
    stateFile,
    feed: { kind: 'manual', prices: { BTCUSDT: 60_000, ETHUSDT: 3_000, AVAXUSDC: 20 } },
    ...extra,
  });
  return {
    ex,
    adapter: adapterFor(ex),
    stateFile,
    cleanup: async () => {
      await ex.close();
      tmp.cleanup();
    },
  };
}

export async function setPrice(ex: LocalExchange, symbol: string, price: number): Promise<void> {
  const res = await fetch(`${ex.baseUrl}/admin/price`, { method: 'POST', body: JSON.stringify({ symbol, price }) });
  if (!res.ok) throw new Error(`admin/price: ${res.status} ${await res.text()}`);
}

export async function setFaults(ex: LocalExchange, faults: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${ex.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify(faults) });
  if (!res.ok) throw new Error(`admin/faults: ${res.status}`);
}

/** Runs a promise expected to fail and returns the error. */
export async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}
