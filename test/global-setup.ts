// Placeholder: replaced by the shared Temporal + Postgres setup.
export default async function setup(): Promise<void> {}
