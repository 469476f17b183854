import { Option, type Command } from 'commander';
import { downloadKlines } from '../../exchange/download.js';
import { symbolList, time } from '../arguments.js';

/** Binance's kline intervals. */
const INTERVALS = ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w', '1M'];

interface DownloadCliOptions {
  symbols: string[];
  interval: string;
  from: number;
  to: number;
  out: string;
  baseUrl?: string;
}

/** `qt data download`: klines from Binance's public API into the project's file format. */
export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('market data files');
  data
    .command('download')
    .description('download klines from the public Binance USD-M API into SYMBOL.csv.gz files')
    .requiredOption('--symbols <list>', 'comma-separated symbols, e.g. BTCUSDT,AVAXUSDC', symbolList)
    .addOption(new Option('--interval <interval>', 'kline interval').choices(INTERVALS).default('5m'))
    .requiredOption('--from <time>', 'first candle open time (ISO date/time UTC or ms), inclusive', time)
    .requiredOption('--to <time>', 'end (ISO date/time UTC or ms), exclusive', time)
    .requiredOption('--out <dir>', 'output directory')
    .option('--base-url <url>', 'API base URL (default https://fapi.binance.com; e.g. a local exchange)')
    .action(async (o: DownloadCliOptions) => {
      if (o.to <= o.from) throw new Error('--to must be after --from');
      const counts = await downloadKlines({
        symbols: o.symbols,
        interval: o.interval,
        from: o.from,
        to: o.to,
        outDir: o.out,
        ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
      });
      for (const [symbol, n] of counts) console.log(`${symbol}: ${n} candles -> ${o.out}/${symbol}.csv.gz`);
    });
}
