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

export type Answer = number | { status: number; headers?: Record<string, string> } | 'hang';

export class Receiver {
  readonly requests: Received[] = [];
  /**
   * answers per path prefix, consumed in order; then `fallback`. An answer is a status code, a status with
   * headers (Retry-After), or 'hang' (never answers: a receiver that accepts the connection and stalls).
   */
  script = new Map<string, Answer[]>();
  /** when each request arrived (ms since the epoch), parallel to `requests` */
  readonly arrivals: number[] = [];
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
        this.arrivals.push(Date.now());
        const key = [...this.script.keys()].find((k) => (req.url ?? '').startsWith(k));
        const answer = (key ? this.script.get(key)?.shift() : undefined) ?? this.fallback;
        if (answer === 'hang') return;
        const { status: code, headers = {} } = typeof answer === 'number' ? { status: answer } : answer;
        res.writeHead(code, { 'content-type': 'application/json', ...headers });
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
    this.server?.closeAllConnections(); // hung requests too
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
