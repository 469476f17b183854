/**
 * A comma-separated symbol list as users write it (`QT_SYMBOLS`, `--symbols`): trimmed, upper-cased,
 * empty entries and repeats dropped, order kept. Validation of each symbol is the caller's.
 */
export function splitSymbols(value: string): string[] {
  return [...new Set(value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean))];
}
