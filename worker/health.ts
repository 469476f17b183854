import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export type Check = () => Promise<unknown>;

/**
 * GET /health: one line of status per dependency (worker, temporal, postgres, exchange, market data); 503
 * when one is down. A check whose detail carries a `warning` (a stale market stream) is `warn`: the answer
 * stays 200 with status `warning`. GET /metrics: Prometheus text.
 */
export function startHealthServer(host: string, port: number, checks: Record<string, Check>, registry: Registry): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.url === '/health') {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          const started = performance.now();
          try {
            const detail = await withTimeout(check(), 3_000);
            const warned = !!detail && typeof detail === 'object' && 'warning' in detail;
            return [name, { status: warned ? 'warn' : 'up', latencyMs: Math.round(performance.now() - started), ...(detail && typeof detail === 'object' ? detail : {}) }] as const;
          } catch (err) {
            return [name, { status: 'down', error: err instanceof Error ? err.message : String(err) }] as const;
          }
        }),
      );
      const body = Object.fromEntries(results);
      const down = results.some(([, r]) => r.status === 'down');
      const warned = results.some(([, r]) => r.status === 'warn');
      const status = down ? 'degraded' : warned ? 'warning' : 'up';
      res.writeHead(down ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ status, ...body }));
    } else if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  const timeout = new Promise<T>((_, reject) => {
    setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref();
  });
  return Promise.race([p, timeout]);
}
