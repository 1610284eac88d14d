// A simulated storefront for the demo and the end-to-end tests: prom-client counters `orders_total` and
// `http_requests_total` by `version` (and `code`), the histogram `http_request_duration_seconds` by
// `version`, Poisson traffic split between versions by weight, and a small control API to shift traffic
// and break a version (fewer orders, more errors, or slow responses).
//   node dist/demo/storefront.js --port 9400 [--orders 40] [--requests 200]
import { createServer } from 'node:http';
import { Counter, Histogram, Registry } from 'prom-client';

interface Behaviour {
  /** multiplier on the version's orders (0.01: orders fall 99%) */
  orders: number;
  /** share of requests answered 5xx */
  errorRatio: number;
  /** share of requests slower than 500 ms (taking 0.6 to 3 s) */
  slowRatio: number;
}

const DEFAULT: Behaviour = { orders: 1, errorRatio: 0.005, slowRatio: 0.01 };

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const port = arg('port', 9400);
const ordersPerS = arg('orders', 40);
const requestsPerS = arg('requests', 200);

const registry = new Registry();
const orders = new Counter({
  name: 'orders_total',
  help: 'Orders placed',
  labelNames: ['service', 'version'] as const,
  registers: [registry],
});
const requests = new Counter({
  name: 'http_requests_total',
  help: 'HTTP requests',
  labelNames: ['service', 'version', 'code'] as const,
  registers: [registry],
});

// prom-client's default buckets, which include the 500 ms bound the demo's latency signal judges
const duration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration',
  labelNames: ['service', 'version'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

/** A request's duration: fast ones log-normal around 60 ms (below 500 ms), slow ones 0.6 to 3 s. */
function latency(slow: boolean): number {
  if (slow) return 0.6 + 2.4 * Math.random();
  return Math.min(0.49, 0.06 * Math.exp(0.5 * gauss()));
}

let weights: Record<string, number> = { v1: 1 };
const pages: unknown[] = [];
const behaviour: Record<string, Behaviour> = {};
let metricsStatus = 200;

function poisson(mean: number): number {
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gauss()));
  const l = Math.exp(-mean);
  let k = 0;
  let p = Math.random();
  while (p > l) {
    k++;
    p *= Math.random();
  }
  return k;
}
function gauss(): number {
  return Math.sqrt(-2 * Math.log(Math.max(Math.random(), 1e-12))) * Math.cos(2 * Math.PI * Math.random());
}

const TICK_MS = 100;
setInterval(() => {
  const dt = TICK_MS / 1000;
  for (const [version, w] of Object.entries(weights)) {
    if (w <= 0) continue;
    const b = behaviour[version] ?? DEFAULT;
    const n = poisson(requestsPerS * w * dt);
    const bad = poisson(n * b.errorRatio);
    if (n - bad > 0) requests.inc({ service: 'checkout', version, code: '200' }, n - bad);
    if (bad > 0) requests.inc({ service: 'checkout', version, code: '500' }, bad);
    const timer = duration.labels({ service: 'checkout', version });
    for (let i = 0; i < n; i++) timer.observe(latency(Math.random() < b.slowRatio));
    const o = poisson(ordersPerS * w * b.orders * dt);
    if (o > 0) orders.inc({ service: 'checkout', version }, o);
  }
}, TICK_MS).unref();

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/metrics') {
    // A fault for tests: /metrics answers this status instead (503: an overloaded exporter).
    if (metricsStatus !== 200) {
      res.writeHead(metricsStatus);
      res.end('unavailable\n');
      return;
    }
    void registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
    });
    return;
  }
  // A stand-in on-call webhook, so the demo shows the page Navigator sends.
  if (req.url === '/pages') {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(pages));
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      pages.push(JSON.parse(body) as unknown);
      res.writeHead(202);
      res.end();
    });
    return;
  }
  if (req.method === 'POST' && req.url === '/control') {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      try {
        const c = JSON.parse(body) as {
          weights?: Record<string, number>;
          behaviour?: Record<string, Partial<Behaviour>>;
          metricsStatus?: number;
        };
        if (c.weights) weights = c.weights;
        if (c.metricsStatus !== undefined) metricsStatus = c.metricsStatus;
        for (const [v, b] of Object.entries(c.behaviour ?? {})) behaviour[v] = { ...DEFAULT, ...behaviour[v], ...b };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ weights, behaviour }));
      } catch (e) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: (e as Error).message }));
      }
    });
    return;
  }
  res.writeHead(404);
  res.end();
});
server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`storefront listening on ${typeof addr === 'object' && addr ? addr.port : port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
