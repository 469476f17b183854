const t0 = performance.now();
const { bundleWorkflows } = await import('/work/wt-chaos/worker/create-worker.ts');
const t1 = performance.now();
await bundleWorkflows();
const t2 = performance.now();
const m = await import('/work/wt-chaos/worker/runtime.ts');
const t3 = performance.now();
console.log({ importCreate: t1 - t0, bundle: t2 - t1, importRuntime: t3 - t2 });
