// Open-loop HTTP load from a second process: `rate` GET requests per second for `seconds`, keep-alive,
// latencies recorded per request. Prints one JSON line. node load.mjs URL RATE SECONDS
import http from 'node:http';

const [url, rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const latencies = [];
let errors = 0;
let sent = 0;
const start = process.hrtime.bigint();
const total = rate * seconds;
await new Promise((done) => {
  let finished = 0;
  const fire = () => {
    const t0 = process.hrtime.bigint();
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
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
    while (sent < due) {
      sent++;
      fire();
    }
    if (sent < total) setTimeout(tick, 1);
  };
  tick();
});
const wall = Number(process.hrtime.bigint() - start) / 1e9;
latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
console.log(
  JSON.stringify({
    requests: latencies.length,
    errors,
    achievedRate: latencies.length / wall,
    p50ms: q(0.5),
    p99ms: q(0.99),
    maxms: latencies[latencies.length - 1],
  }),
);
agent.destroy();
