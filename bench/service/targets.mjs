// Synthetic scrape targets for bench/service/live.ts: one HTTP server per service (its own port, so its own
// `instance` and `up` in Prometheus), each exposing counters for the baseline v0 and `versions` canary
// versions: orders_total and http_requests_total{code="200"|"500"}. Counters grow with the wall clock
// (Poisson-like noise), so every scrape sees fresh increments. Prints one JSON line with the ports.
//   node bench/service/targets.mjs SERVICES VERSIONS
import http from 'node:http';

const [servicesArg, versionsArg] = process.argv.slice(2);
const SERVICES = Number(servicesArg ?? 100);
const VERSIONS = Number(versionsArg ?? 10);
const RATES = [
  ['orders_total', null, 30],
  ['http_requests_total', '200', 300],
  ['http_requests_total', '500', 1.5],
];

let seed = 42;
const rand = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
/** A normal approximation of Poisson(mean), never negative. */
const events = (mean) => Math.max(0, Math.round(mean + Math.sqrt(mean) * (rand() + rand() + rand() - 1.5) * 2));

function target(service) {
  const counters = new Float64Array((VERSIONS + 1) * RATES.length);
  let last = Date.now() / 1000;
  return () => {
    const now = Date.now() / 1000;
    const dt = now - last;
    last = now;
    const lines = [];
    for (let v = 0; v <= VERSIONS; v++) {
      const share = v === 0 ? 1 : 0.1 / VERSIONS;
      RATES.forEach(([metric, code, rate], k) => {
        const i = v * RATES.length + k;
        counters[i] += events(rate * dt * share);
        lines.push(`${metric}{service="${service}",version="v${v}"${code ? `,code="${code}"` : ''}} ${counters[i]}`);
      });
    }
    return `# TYPE orders_total counter\n# TYPE http_requests_total counter\n${lines.join('\n')}\n`;
  };
}

const ports = [];
for (let s = 0; s < SERVICES; s++) {
  const render = target(`svc${s}`);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(render());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  ports.push(server.address().port);
}
console.log(JSON.stringify({ ports }));
