// Open-loop HTTP load from one separate process, spread round-robin over one or several servers (the
// replicas behind a load balancer): `rate` GET requests per second for `seconds`, keep-alive, latency per
// request. The one load generator of bench/service and bench/replicas:
//   node load.mjs BASE1[,BASE2,...] PATH RATE SECONDS [IDS] [SAMPLES]
// `{i}` in PATH cycles over 0..IDS-1; with SAMPLES, each request's send time (epoch ms), latency (ms) and
// server index are written there as JSON. Prints one JSON line (overall and per server).
import http from 'node:http';
import { writeFileSync } from 'node:fs';

const [basesArg, path, rateArg, secondsArg, idsArg, samplesFile] = process.argv.slice(2);
const bases = basesArg.split(',');
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const ids = Number(idsArg ?? 0);
const agent = new http.Agent({ keepAlive: true, maxSockets: 96 });
const latencies = [];
const sentAt = [];
const server = [];
let errors = 0;
let sent = 0;
const start = process.hrtime.bigint();
const startMs = Date.now();
const total = rate * seconds;
await new Promise((done) => {
  let finished = 0;
  const fire = (n) => {
    const t0 = process.hrtime.bigint();
    const b = n % bases.length;
    const url = bases[b] + (ids > 0 ? path.replace('{i}', String(n % ids)) : path);
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        sentAt.push(startMs + Number(t0 - start) / 1e6);
        server.push(b);
        if (res.statusCode >= 500) errors++;
        if (++finished === total) done();
      });
    });
    req.on('error', () => {
      errors++;
      if (++finished === total) done();
    });
  };
  // Open loop: requests leave on schedule whether or not earlier ones returned (no coordinated omission).
  const tick = () => {
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const due = Math.min(total, Math.floor(elapsed * rate));
    while (sent < due) fire(sent++);
    if (sent < total) setTimeout(tick, 1);
  };
  tick();
});
const wall = Number(process.hrtime.bigint() - start) / 1e9;
if (samplesFile) writeFileSync(samplesFile, JSON.stringify({ sentAt, latencies, server }));
const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
console.log(
  JSON.stringify({
    requests: latencies.length,
    errors,
    achievedRate: latencies.length / wall,
    p50ms: q(latencies, 0.5),
    p99ms: q(latencies, 0.99),
    maxms: Math.max(...latencies),
    perServer: bases.map((_, b) => {
      const mine = latencies.filter((_, i) => server[i] === b);
      return { requests: mine.length, p50ms: q(mine, 0.5), p99ms: q(mine, 0.99) };
    }),
  }),
);
agent.destroy();
