import type { Command } from 'commander';
import { BINANCE_USDM_REST_URL, BINANCE_USDM_WS_URL } from '../../core/config.js';
import { port, positiveNumber, symbolList, time } from '../arguments.js';
import { startLocalExchange } from '../../exchange/sim/server.js';

interface ExchangeCliOptions {
  replay?: string;
  speed: number;
  start?: number;
  port: number;
  host: string;
  state?: string;
  stepSeconds: number;
  symbols?: string[];
  live?: boolean;
  upstream: string;
  upstreamWs: string;
}

/** `qt exchange`: the local Binance-compatible exchange on its own, for manual tests and demos. */
export function registerExchangeCommands(program: Command): void {
  program
    .command('exchange')
    .description('run the local Binance USD-M compatible exchange (paper venue) until Ctrl-C')
    .option('--replay <dir>', 'replay klines files (SYMBOL.csv[.gz]) from this directory; without it prices are set via POST /admin/price')
    .option('--speed <n>', 'replay speed: market seconds per wall second', positiveNumber, 1)
    .option('--start <time>', 'market time to start the replay at (ISO date/time UTC, epoch s or ms); default: 3 days into the data', time)
    .option('--port <port>', 'port (0 = any free port)', port, 8100)
    .option('--host <address>', 'address to listen on; 0.0.0.0 for other containers (the admin API stays loopback-only)', '127.0.0.1')
    .option('--state <file>', 'state file (balances, positions, orders, replay clock); omit for in-memory')
    .option('--step-seconds <n>', 'intrabar price walk resolution in seconds', positiveNumber, 15)
    .option('--symbols <list>', 'comma-separated symbols to replay (default: every file), or to follow with --live', symbolList)
    .option('--live', "today's prices, marks and klines from an upstream Binance's public API (needs --symbols)")
    .option('--upstream <url>', 'upstream REST base for --live', BINANCE_USDM_REST_URL)
    .option('--upstream-ws <url>', 'upstream stream base for --live', BINANCE_USDM_WS_URL)
    .action(async (o: ExchangeCliOptions) => {
      const speed = o.speed;
      const symbols = o.symbols;
      if (o.live && (o.replay || !symbols?.length)) throw new Error('--live needs --symbols and no --replay');
      const ex = await startLocalExchange({
        port: o.port,
        host: o.host,
        ...(o.state ? { stateFile: o.state } : {}),
        intrabarStepMs: o.stepSeconds * 1000,
        feed: o.live
          ? { kind: 'live', restUrl: o.upstream, wsUrl: o.upstreamWs, symbols: symbols! }
          : o.replay
            ? { kind: 'replay', dir: o.replay, speed, ...(o.start !== undefined ? { start: o.start } : {}), ...(symbols ? { symbols } : {}) }
            : { kind: 'manual' },
      });
      console.log(`local exchange listening on ${ex.baseUrl}`);
      console.log(`  API key:    ${ex.apiKey}`);
      console.log(`  API secret: ${ex.apiSecret}   (development credentials: play money, loopback only)`);
      const feed = o.live ? `live from ${o.upstream}` : o.replay ? `replay of ${o.replay} at ${speed}x from ${new Date(ex.feed.now()).toISOString()}` : 'manual (POST /admin/price)';
      console.log(`  feed:       ${feed}`);
      console.log(`  streams:    ${ex.wsUrl}/ws/<stream>, ${ex.wsUrl}/stream?streams=<a>/<b> (also under /market)`);
      console.log(`  admin:      ${ex.baseUrl}/admin/state, /admin/faults, /admin/price, /admin/release`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await ex.close();
      console.log('local exchange stopped, state saved');
    });
}
