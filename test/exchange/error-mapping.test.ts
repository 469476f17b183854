import { describe, expect, it } from 'vitest';
import { classifyHttpFailure, classifyNetworkFailure } from '../../exchange/errors.js';
import { ApiCredentials, loadApiKeys } from '../../exchange/credentials.js';
import { inspect } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Pure classification rules; the integration tests (adapter-errors.test.ts) trigger each code for real.
describe('classifyHttpFailure', () => {
  const kind = (httpStatus: number, code?: number, msg = '', retryAfterSec?: number) =>
    classifyHttpFailure('t', { httpStatus, ...(code !== undefined ? { code } : {}), msg, ...(retryAfterSec !== undefined ? { retryAfterSec } : {}) });

  it('rate limits are retryable after Retry-After; a 418 ban waits long without one', () => {
    expect(kind(429, -1003, 'Too many', 7)).toMatchObject({ kind: 'retryable', retryAfterMs: 7000 });
    expect(kind(418, -1003, 'banned', 120)).toMatchObject({ kind: 'retryable', retryAfterMs: 120_000 });
    expect(kind(418, -1003, 'banned').retryAfterMs).toBeGreaterThanOrEqual(60_000);
  });
  it('503 "Service Unavailable" is retryable, 503 with unknown execution status is unknown', () => {
    expect(kind(503, -1008, 'Service Unavailable.').kind).toBe('retryable');
    expect(kind(503, undefined, 'Unknown error, please check your request or try again later.').kind).toBe('unknown');
    expect(kind(503, -1006, 'Service Unavailable... status unknown').kind).toBe('unknown');
    expect(kind(500, undefined, 'Internal Server Error').kind).toBe('unknown');
    expect(kind(408, -1007, 'Timeout waiting for response').kind).toBe('unknown');
  });
  it('-1021 is retryable at once; business rejections are rejected', () => {
    expect(kind(400, -1021).kind).toBe('retryable');
    for (const code of [-2019, -4164, -1111, -2022, -2015, -2014, -1022, -4116, -4120, -1102, -2013, -2021]) {
      expect(kind(400, code).kind).toBe('rejected');
    }
  });
  it('refused connections were never sent; resets and timeouts are unknown', () => {
    expect(classifyNetworkFailure('t', 'ECONNREFUSED', '').kind).toBe('retryable');
    expect(classifyNetworkFailure('t', 'ECONNRESET', 'socket hang up').kind).toBe('unknown');
    expect(classifyNetworkFailure('t', 'ECONNABORTED', 'timeout of 3000ms exceeded').kind).toBe('unknown');
  });
});

describe('API keys', () => {
  it('reads keys from env or files and never shows the secret', () => {
    expect(loadApiKeys({})).toBeNull();
    const c = loadApiKeys({ BINANCE_API_KEY: 'key-abcd', BINANCE_API_SECRET: 'very-secret-value' })!;
    expect(c.apiSecret).toBe('very-secret-value');
    for (const shown of [String(c), JSON.stringify(c), inspect(c), inspect({ nested: c })]) expect(shown).not.toContain('very-secret-value');
    const dir = mkdtempSync(join(tmpdir(), 'qt-keys-'));
    writeFileSync(join(dir, 'k'), 'file-key\n');
    writeFileSync(join(dir, 's'), 'file-secret\n');
    const f = loadApiKeys({ BINANCE_API_KEY_FILE: join(dir, 'k'), BINANCE_API_SECRET_FILE: join(dir, 's') })!;
    expect([f.apiKey, f.apiSecret]).toEqual(['file-key', 'file-secret']);
    expect(() => loadApiKeys({ BINANCE_API_KEY: 'k' })).toThrow(/BINANCE_API_SECRET/);
    const err = (() => { try { loadApiKeys({ BINANCE_API_KEY: 'k', BINANCE_API_SECRET_FILE: '/nonexistent/x' }); } catch (e) { return String(e); } return ''; })();
    expect(err).toMatch(/BINANCE_API_SECRET_FILE/);
    expect(new ApiCredentials('a', 'b').toJSON().apiSecret).toBe('[redacted]');
  });
});

describe('createExchange', () => {
  it('needs a URL for paper, keys for testnet and live, and an explicit confirmation for live', async () => {
    const { createExchange } = await import('../../exchange/factory.js');
    expect(() => createExchange({ venue: 'paper' })).toThrow(/base URL/);
    expect(() => createExchange({ venue: 'testnet' })).toThrow(/BINANCE_API_KEY/);
    const keys = new ApiCredentials('k', 's');
    expect(() => createExchange({ venue: 'live', credentials: keys })).toThrow(/not explicitly confirmed/);
    expect(createExchange({ venue: 'live', credentials: keys, allowLive: true }).venue).toBe('live');
    expect(createExchange({ venue: 'paper', baseUrl: 'http://127.0.0.1:1', credentials: keys }).venue).toBe('paper');
    // Keys and signed requests never travel over plain http to a testnet or live venue.
    expect(() => createExchange({ venue: 'testnet', baseUrl: 'http://127.0.0.1:1', credentials: keys })).toThrow(/non-https/);
    expect(createExchange({ venue: 'testnet', baseUrl: 'https://proxy.internal', credentials: keys }).venue).toBe('testnet');
  });
});
