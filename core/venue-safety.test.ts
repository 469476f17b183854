import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

/** Settings that must never reach a real venue by accident: a custom exchange URL, scripted signals. */

const TESTNET = { QT_PAPER_TRADING: 'false', QT_VENUE: 'testnet' };
const LIVE = { QT_PAPER_TRADING: 'false', QT_CONFIRM_LIVE_TRADING: 'I understand real money is at risk' };

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`no configuration error for ${JSON.stringify(env)}`);
}

describe('QT_EXCHANGE_URL on testnet and live', () => {
  it('is refused unless https and explicitly allowed, in one line naming the variable', () => {
    for (const venue of [TESTNET, LIVE]) {
      const cases: [Record<string, string>, RegExp][] = [
        [{ QT_EXCHANGE_URL: 'http://example.com' }, /an https URL and QT_ALLOW_CUSTOM_EXCHANGE_URL=true/],
        [{ QT_EXCHANGE_URL: 'https://example.com' }, /needs QT_ALLOW_CUSTOM_EXCHANGE_URL=true$/],
        [{ QT_EXCHANGE_URL: 'http://example.com', QT_ALLOW_CUSTOM_EXCHANGE_URL: 'true' }, /needs an https URL$/],
        [{ QT_EXCHANGE_URL: 'https://example.com', QT_ALLOW_CUSTOM_EXCHANGE_URL: 'false' }, /QT_ALLOW_CUSTOM_EXCHANGE_URL=true/],
        [{ QT_EXCHANGE_URL: 'fapi.binance.com' }, /not a URL/],
      ];
      for (const [env, message] of cases) {
        const err = configError({ ...venue, ...env });
        expect(err.variable).toBe('QT_EXCHANGE_URL');
        expect(err.message).toMatch(/^QT_EXCHANGE_URL: /);
        expect(err.message).toMatch(message);
        expect(err.message).not.toContain('\n');
      }
    }
  });

  it('never echoes credentials embedded in the URL', () => {
    const err = configError({ ...LIVE, QT_EXCHANGE_URL: 'http://user:hunter2@evil.example:8443/fapi' });
    expect(err.message).toContain('evil.example:8443');
    expect(err.message).not.toContain('hunter2');
  });

  it('is accepted when https and allowed, and unset means Binance itself', () => {
    const allowed = { QT_EXCHANGE_URL: 'https://proxy.internal:8443', QT_ALLOW_CUSTOM_EXCHANGE_URL: 'true' };
    expect(loadConfig({ ...TESTNET, ...allowed }).exchangeUrl).toBe('https://proxy.internal:8443');
    expect(loadConfig({ ...LIVE, ...allowed }).exchangeUrl).toBe('https://proxy.internal:8443');
    expect(loadConfig(LIVE).exchangeUrl).toBeNull();
  });

  it('names QT_ALLOW_CUSTOM_EXCHANGE_URL when its value is not a boolean', () => {
    expect(configError({ ...LIVE, QT_ALLOW_CUSTOM_EXCHANGE_URL: 'sure' }).variable).toBe('QT_ALLOW_CUSTOM_EXCHANGE_URL');
  });

  it('stays free on the paper venue (the local exchange, e.g. http://exchange:8100 in compose)', () => {
    expect(loadConfig({ QT_EXCHANGE_URL: 'http://exchange:8100' }).exchangeUrl).toBe('http://exchange:8100');
  });
});

describe('QT_SIGNAL_SOURCE', () => {
  it('defaults to the models and reads random:<seed>:<entry-probability> on paper', () => {
    expect(loadConfig({}).signalSource).toEqual({ kind: 'model' });
    expect(loadConfig({ QT_SIGNAL_SOURCE: 'random:42:0.3' }).signalSource).toEqual({ kind: 'random', seed: 42, entryProbability: 0.3 });
  });

  it('is refused on testnet and live', () => {
    for (const venue of [TESTNET, LIVE]) {
      const err = configError({ ...venue, QT_SIGNAL_SOURCE: 'random:1:0.5' });
      expect(err.message).toMatch(/^QT_SIGNAL_SOURCE: .*refused on the (testnet|live) venue/);
    }
  });

  it('rejects malformed values with the expected form', () => {
    for (const bad of ['random', 'random:1', 'random:x:0.5', 'random:1:0', 'random:1:1.5', 'random:-1:0.5', 'coinflip']) {
      const err = configError({ QT_SIGNAL_SOURCE: bad });
      expect(err.message).toMatch(/^QT_SIGNAL_SOURCE: expected model or random:<seed>:<entry-probability>/);
    }
  });
});
