import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_SYMBOLS, loadConfig } from './config.js';
import { applyParamChanges, DEFAULT_PARAMS } from './params.js';

describe('configuration', () => {
  it('has the seed defaults', () => {
    const c = loadConfig({});
    expect(c.params.checkIntervalSeconds).toBe(15);
    expect(c.params.confidenceThreshold).toBe(0.55);
    expect(c.params.cooldownSeconds).toBe(180);
    expect(c.paperTrading).toBe(true);
    expect(c.venue).toBe('paper');
    expect(c.enableExecution && c.enableAiTrading && c.eventDrivenMode).toBe(true);
    expect(c.symbols).toEqual(DEFAULT_SYMBOLS);
    expect(c.symbols).toHaveLength(45);
    expect(c.risk.maxOrderNotional).toBe(1000);
    expect(c.reconcileSeconds).toBe(60);
    expect(c.orphanPolicy).toBe('adopt');
    expect(loadConfig({ QT_ORPHAN_POLICY: 'Flatten', QT_RECONCILE_SECONDS: '30' })).toMatchObject({ orphanPolicy: 'flatten', reconcileSeconds: 30 });
  });

  it('mixes USDT and USDC symbols by default, one per coin, the USDC ones as the seed traded them', () => {
    const usdc = DEFAULT_SYMBOLS.filter((s) => s.endsWith('USDC'));
    expect(usdc.sort()).toEqual(['ARBUSDC', 'AVAXUSDC', 'NEARUSDC', 'SOLUSDC', 'UNIUSDC']);
    expect(DEFAULT_SYMBOLS.filter((s) => s.endsWith('USDT'))).toHaveLength(40);
    const coins = DEFAULT_SYMBOLS.map((s) => s.replace(/USD[TC]$/, ''));
    expect(new Set(coins).size).toBe(45);
  });

  it('reads the live market data endpoints and the stream stale limit', () => {
    const d = loadConfig({});
    expect([d.upstreamUrl, d.upstreamWsUrl, d.streamStaleSeconds, d.exchangeWsUrl]).toEqual(['https://fapi.binance.com', 'wss://fstream.binance.com', 10, null]);
    const c = loadConfig({ QT_UPSTREAM_URL: 'http://127.0.0.1:9100/', QT_UPSTREAM_WS_URL: 'ws://127.0.0.1:9100', QT_STREAM_STALE_SECONDS: '5' });
    expect([c.upstreamUrl, c.upstreamWsUrl, c.streamStaleSeconds]).toEqual(['http://127.0.0.1:9100', 'ws://127.0.0.1:9100', 5]);
    expect(() => loadConfig({ QT_UPSTREAM_WS_URL: 'https://fstream.binance.com' })).toThrow(/^QT_UPSTREAM_WS_URL: expected a ws:\/\/ or wss:\/\/ URL/);
    expect(() => loadConfig({ QT_UPSTREAM_URL: 'fapi' })).toThrow(/^QT_UPSTREAM_URL: "fapi" is not a URL/);
    expect(() => loadConfig({ QT_STREAM_STALE_SECONDS: '0' })).toThrow(/^QT_STREAM_STALE_SECONDS: must be between 2 and 3600/);
  });

  it('reads the event-driven settings, naming the variable of a bad value', () => {
    expect([loadConfig({}).eventDrivenMode, loadConfig({}).eventMovePct]).toEqual([true, 0.5]);
    const c = loadConfig({ QT_EVENT_DRIVEN_MODE: 'false', QT_EVENT_MOVE_PCT: '1.5' });
    expect([c.eventDrivenMode, c.eventMovePct]).toEqual([false, 1.5]);
    expect(() => loadConfig({ QT_EVENT_MOVE_PCT: '0' })).toThrow(/^QT_EVENT_MOVE_PCT: must be between 0.01 and 100/);
    expect(() => loadConfig({ QT_EVENT_MOVE_PCT: 'half' })).toThrow(/^QT_EVENT_MOVE_PCT/);
  });

  it('reads the learning loop settings, naming the variable of a bad value', () => {
    const d = loadConfig({});
    expect(d.retrain).toMatchObject({ schedule: '30 0 * * *', windowDays: 30, minTrades: 100, folds: 4, trees: 40, metaMinTrades: 50 });
    expect(d.retrain.symbols).toEqual(DEFAULT_SYMBOLS);
    expect([d.modelStoreDir, d.modelRefreshSeconds]).toEqual(['.qt/models', 5]);
    const c = loadConfig({ QT_RETRAIN_SCHEDULE: ' 0  */6 * * * ', QT_SYMBOLS: 'BTCUSDT', QT_STATE_DIR: '/var/qt', QT_PROMOTION_MIN_TRADES: '20' });
    expect([c.retrain.schedule, c.retrain.symbols, c.modelStoreDir, c.retrain.minTrades]).toEqual(['0 */6 * * *', ['BTCUSDT'], '/var/qt/models', 20]);
    expect(() => loadConfig({ QT_RETRAIN_SCHEDULE: 'daily' })).toThrow(/^QT_RETRAIN_SCHEDULE: must be a 5-field cron expression/);
    expect(() => loadConfig({ QT_RETRAIN_WINDOW_DAYS: '0' })).toThrow(/^QT_RETRAIN_WINDOW_DAYS: must be between 1 and 3650/);
    expect(() => loadConfig({ QT_RETRAIN_SYMBOLS: 'BTC USDT' })).toThrow(/^QT_RETRAIN_SYMBOLS/);
  });

  it('names the variable in one line when a value is bad', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ QT_CHECK_INTERVAL: 'fast' }, /^QT_CHECK_INTERVAL: /],
      [{ QT_CONFIDENCE_THRESHOLD: '1.5' }, /^QT_CONFIDENCE_THRESHOLD: .*between 0.34 and 1/],
      [{ QT_PAPER_TRADING: 'maybe' }, /^QT_PAPER_TRADING: expected true or false/],
      [{ QT_SYMBOLS: 'BTCUSDT,ETHBTC' }, /^QT_SYMBOLS: .*ETHBTC/],
      [{ QT_LEVERAGE: '2.5' }, /^QT_LEVERAGE: /],
      [{ QT_MARKET_DATA: 'tape' }, /^QT_MARKET_DATA: expected one of live\|replay/],
      [{ QT_REPLAY_START: 'yesterday' }, /^QT_REPLAY_START: /],
      [{ QT_REPLAY_START: '175668480000' }, /^QT_REPLAY_START: .*neither epoch seconds \(10 digits\) nor epoch milliseconds/],
      [{ QT_MAX_ORDER_NOTIONAL: '0' }, /^QT_MAX_ORDER_NOTIONAL: must be between/],
      [{ QT_POSITION_NOTIONAL: '2000' }, /^QT_POSITION_NOTIONAL: 2000 exceeds QT_MAX_ORDER_NOTIONAL=1000/],
      [{ QT_RECONCILE_SECONDS: '0' }, /^QT_RECONCILE_SECONDS: /],
      [{ QT_ORPHAN_POLICY: 'ignore' }, /^QT_ORPHAN_POLICY: expected one of adopt\|flatten/],
    ];
    for (const [env, msg] of bad) {
      const err = (() => {
        try {
          loadConfig(env);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('reads QT_REPLAY_START as ISO time, epoch seconds or epoch milliseconds', () => {
    const sept1 = Date.UTC(2025, 8, 1);
    expect(loadConfig({ QT_REPLAY_START: '2025-09-01' }).replayStart).toBe(sept1);
    expect(loadConfig({ QT_REPLAY_START: String(sept1 / 1000) }).replayStart).toBe(sept1);
    expect(loadConfig({ QT_REPLAY_START: String(sept1) }).replayStart).toBe(sept1);
    expect(loadConfig({ QT_REPLAY_START: '2025-09-01T12:30' }).replayStart).toBe(sept1 + 45_000_000);
  });

  it('accepts USDT- and USDC-margined symbols', () => {
    expect(loadConfig({ QT_SYMBOLS: 'avaxusdc, BTCUSDT,BTCUSDT' }).symbols).toEqual(['AVAXUSDC', 'BTCUSDT']);
  });

  it('refuses live trading without the explicit confirmation', () => {
    expect(() => loadConfig({ QT_PAPER_TRADING: 'false' })).toThrow(/QT_CONFIRM_LIVE_TRADING/);
    const c = loadConfig({ QT_PAPER_TRADING: 'false', QT_CONFIRM_LIVE_TRADING: 'I understand real money is at risk' });
    expect(c.venue).toBe('live');
    expect(loadConfig({ QT_PAPER_TRADING: 'false', QT_VENUE: 'testnet' }).venue).toBe('testnet');
  });

  it('validates runtime parameter changes key by key', () => {
    expect(applyParamChanges(DEFAULT_PARAMS, { confidenceThreshold: '0.6', cooldownSeconds: 60 })).toMatchObject({ confidenceThreshold: 0.6, cooldownSeconds: 60 });
    expect(() => applyParamChanges(DEFAULT_PARAMS, { nonsense: 1 })).toThrow(/unknown parameter nonsense/);
    expect(() => applyParamChanges(DEFAULT_PARAMS, { stopLossPct: -1 })).toThrow(/stopLossPct must be between/);
  });
});
