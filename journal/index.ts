export { Journal } from './journal.js';
export { migrate, loadMigrations, MIGRATIONS_DIR } from './migrate.js';
export type * from './types.js';
export type { PnlGrouping, PnlReport, RealizedPnl, UnrealizedPnl } from './pnl-report.js';
