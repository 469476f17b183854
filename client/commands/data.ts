import type { Command } from 'commander';
import { downloadKlines, parseTime } from '../../exchange/download.js';
import { splitSymbols } from '../../core/symbols.js';

interface DownloadCliOptions {
  symbols: string;
  interval: string;
  from: string;
  to: string;
  out: string;
  baseUrl?: string;
}

/** `qt data download`: klines from Binance's public API into the project's file format. */
export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('market data files');
  data
    .command('download')
    .description('download klines from the public Binance USD-M API into SYMBOL.csv.gz files')
    .requiredOption('--symbols <list>', 'comma-separated symbols, e.g. BTCUSDT,AVAXUSDC')
    .option('--interval <interval>', 'kline interval', '5m')
    .requiredOption('--from <time>', 'first candle open time (ISO date/time UTC or ms), inclusive')
    .requiredOption('--to <time>', 'end (ISO date/time UTC or ms), exclusive')
    .requiredOption('--out <dir>', 'output directory')
    .option('--base-url <url>', 'API base URL (default https://fapi.binance.com; e.g. a local exchange)')
    .action(async (o: DownloadCliOptions) => {
      const symbols = splitSymbols(o.symbols);
      const counts = await downloadKlines({
        symbols,
        interval: o.interval,
        from: parseTime(o.from, '--from'),
        to: parseTime(o.to, '--to'),
        outDir: o.out,
        ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
      });
      for (const [symbol, n] of counts) console.log(`${symbol}: ${n} candles -> ${o.out}/${symbol}.csv.gz`);
    });
}
