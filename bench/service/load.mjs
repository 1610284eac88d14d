// Open-loop HTTP load from a second process: `rate` GET requests per second for `seconds`, keep-alive,
// latencies recorded per request. Prints one JSON line. node load.mjs URL RATE SECONDS [IDS] [SAMPLES]
// With IDS, `{i}` in URL cycles over 0..IDS-1 (many deploys' gates, not one); with SAMPLES, each request's
// send time (epoch ms) and latency (ms) are written there as JSON, so a caller can pick the ones that ran
// while a tick did.
import http from 'node:http';
import { writeFileSync } from 'node:fs';

const [url, rateArg, secondsArg, idsArg, samplesFile] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const ids = Number(idsArg ?? 0);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const latencies = [];
const sentAt = [];
let errors = 0;
let sent = 0;
const start = process.hrtime.bigint();
const startMs = Date.now();
const total = rate * seconds;
await new Promise((done) => {
  let finished = 0;
  const fire = (n) => {
    const t0 = process.hrtime.bigint();
    const target = ids > 0 ? url.replace('{i}', String(n % ids)) : url;
    const req = http.get(target, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        sentAt.push(startMs + Number(t0 - start) / 1e6);
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
if (samplesFile) writeFileSync(samplesFile, JSON.stringify({ sentAt, latencies }));
const sorted = [...latencies].sort((a, b) => a - b);
const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
console.log(JSON.stringify({ requests: sorted.length, errors, achievedRate: sorted.length / wall, p50ms: q(0.5), p99ms: q(0.99), maxms: sorted[sorted.length - 1] }));
agent.destroy();
