import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig, type AppConfig } from '../core/config.js';
import { registerTradingCommands } from './commands/trading.js';
import { registerSafetyCommands } from './commands/safety.js';
import { registerStackCommands } from './commands/stack.js';
import { registerExchangeCommands } from './commands/exchange.js';
import { registerDataCommands } from './commands/data.js';
import { registerMlCommands } from './commands/ml.js';
import { showUsageOnErrors } from './arguments.js';

let cached: AppConfig | null = null;
/** Configuration is read lazily so `qt --help` works even with a bad environment. */
const config = (): AppConfig => (cached ??= loadConfig(process.env));

const program = new Command('qt')
  .description('Quantum Trader: durable autonomous trading agent for Binance USD-M futures')
  .exitOverride();

registerStackCommands(program, config);
registerTradingCommands(program, config);
registerSafetyCommands(program, config);
registerExchangeCommands(program);
registerDataCommands(program);
registerMlCommands(program);
showUsageOnErrors(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // One clear line, no stack trace, for errors users cause (bad config, unknown symbol, no server).
  const msg = err instanceof ConfigError ? `configuration error: ${err.message}` : `error: ${err instanceof Error ? err.message : String(err)}`;
  console.error(msg);
  if (process.env.QT_DEBUG) console.error(err);
  process.exit(1);
}
