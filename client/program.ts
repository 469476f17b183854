import { Command, type OutputConfiguration } from 'commander';
import type { AppConfig } from '../core/config.js';
import { showUsageOnErrors } from './arguments.js';
import { registerDataCommands } from './commands/data.js';
import { registerExchangeCommands } from './commands/exchange.js';
import { registerMlCommands } from './commands/ml.js';
import { registerSafetyCommands } from './commands/safety.js';
import { registerStackCommands } from './commands/stack.js';
import { registerTradingCommands, withClient } from './commands/trading.js';
import { registerModelCommands } from './models.js';

/**
 * The `qt` command tree. Errors of usage throw a CommanderError (exitOverride) instead of exiting, so the entry
 * point decides the exit code and tests can parse arguments in-process; `output` redirects what commander prints.
 */
export function buildProgram(config: () => AppConfig, output?: OutputConfiguration): Command {
  const program = new Command('qt').description('Quantum Trader: durable autonomous trading agent for Binance USD-M futures').exitOverride();
  // Set before the subcommands exist: they inherit it.
  if (output) program.configureOutput(output);
  registerStackCommands(program, config);
  registerTradingCommands(program, config);
  registerSafetyCommands(program, config);
  registerExchangeCommands(program);
  registerDataCommands(program);
  registerMlCommands(program, config);
  registerModelCommands(program, config, withClient);
  showUsageOnErrors(program);
  return program;
}
