import { prepareExistingServer } from './temporal.js';

/**
 * One-shot set-up of an external Temporal server (the compose stack's `temporal-setup` service): the
 * namespace when missing, the search attributes and the retention;
 * `tsx infra/setup-temporal.ts` with TEMPORAL_ADDRESS, optional TEMPORAL_NAMESPACE and
 * QT_TEMPORAL_RETENTION_DAYS (30 by default).
 */
const address = process.env.TEMPORAL_ADDRESS;
if (!address) {
  console.error('TEMPORAL_ADDRESS is required');
  process.exit(2);
}
const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
const retentionDays = Number(process.env.QT_TEMPORAL_RETENTION_DAYS || 30);
if (!(retentionDays > 0)) {
  console.error('QT_TEMPORAL_RETENTION_DAYS must be a positive number of days');
  process.exit(2);
}

prepareExistingServer({ address, namespace, retentionDays }).then(
  ({ addedSearchAttributes, registeredNamespace }) => {
    const added = addedSearchAttributes.length ? addedSearchAttributes.join(', ') : 'none (already registered)';
    console.log(`temporal ${address} namespace ${namespace}${registeredNamespace ? ' (registered)' : ''}: retention ${retentionDays} days, search attributes added: ${added}`);
  },
  (err: unknown) => {
    console.error(`temporal set-up failed: ${String(err)}`);
    process.exit(1);
  },
);
