// A Receiver (receiver.ts) in a process of its own, for fault tests across real processes: it outlives
// Navigator being killed and counts what really arrived. Started by RemoteReceiver below (node --import tsx);
// it prints {"url": ...} on its first stdout line and is driven over HTTP on the same port:
//   GET  /_control/requests   every request so far, with its arrival time (ms) and the status answered
//   POST /_control/script     { "prefix": "/hook", "answers": [500, "hang", ...] }
//   POST /_control/outage     { "prefix": "/hook", "status": 500, "ms": 6000 }: that status for ms from the first request to it
//   POST /_control/delay      { "ms": 150 }
import { Receiver } from './receiver.js';

const rx = new Receiver();
rx.controlled = true;
await rx.start();
process.stdout.write(`${JSON.stringify({ url: rx.url })}\n`);
