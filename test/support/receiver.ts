// A local HTTP receiver standing in for PagerDuty, Opsgenie, Slack, Alertmanager and webhooks: it records
// every request and answers from a script of status codes.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: unknown;
}

export class Receiver {
  readonly requests: Received[] = [];
  /** status codes to answer, per path prefix, consumed in order; then `fallback` */
  script = new Map<string, number[]>();
  fallback = 202;
  private server: Server | null = null;
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        let json: unknown = null;
        try {
          json = JSON.parse(body);
        } catch {
          /* not JSON */
        }
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json });
        const key = [...this.script.keys()].find((k) => (req.url ?? '').startsWith(k));
        const code = (key ? this.script.get(key)?.shift() : undefined) ?? this.fallback;
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(code < 300 ? '{"status":"success"}' : '{"error":"scripted"}');
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    return this.url;
  }

  at(prefix: string): Received[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
