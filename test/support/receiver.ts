// A local HTTP receiver standing in for PagerDuty, Opsgenie, Slack, Alertmanager and webhooks: it records
// every request and answers from a script of status codes.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

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
  /** path prefix -> answer this status for `ms` from the first request to it: an outage by the clock */
  outages = new Map<string, { status: number; ms: number; until?: number }>();
  /** delay before answering, ms (a slow receiver: widens the window a crash can fall into) */
  delayMs = 0;
  /** the status each request was answered with, parallel to `requests` (undefined: hung) */
  readonly answered: (number | undefined)[] = [];
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
        if (this.controlled && (req.url ?? '').startsWith('/_control/')) return this.control(req.url ?? '', json, res);
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json });
        this.arrivals.push(Date.now());
        const index = this.answered.push(undefined) - 1;
        const path = req.url ?? '';
        const key = [...this.script.keys()].find((k) => path.startsWith(k));
        const outage = [...this.outages.entries()].find(([k, o]) => {
          if (!path.startsWith(k)) return false;
          o.until ??= Date.now() + o.ms;
          return Date.now() < o.until;
        })?.[1];
        const answer = (key ? this.script.get(key)?.shift() : undefined) ?? outage?.status ?? this.fallback;
        if (answer === 'hang') return;
        const { status: code, headers = {} } = typeof answer === 'number' ? { status: answer } : answer;
        const reply = () => {
          this.answered[index] = code;
          res.writeHead(code, { 'content-type': 'application/json', ...headers });
          res.end(code < 300 ? '{"status":"success"}' : '{"error":"scripted"}');
        };
        if (this.delayMs > 0) setTimeout(reply, this.delayMs);
        else reply();
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    return this.url;
  }

  /** serve /_control/ (receiver-process.ts): a receiver in another process, driven over HTTP */
  controlled = false;

  private control(path: string, json: unknown, res: ServerResponse): void {
    const msg = (json ?? {}) as Record<string, unknown>;
    if (path === '/_control/requests') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          this.requests.map((r, i) => ({ ...r, arrival: this.arrivals[i], answered: this.answered[i] ?? null })),
        ),
      );
      return;
    }
    if (path === '/_control/script') this.script.set(msg.prefix as string, msg.answers as Answer[]);
    else if (path === '/_control/outage')
      this.outages.set(msg.prefix as string, { status: msg.status as number, ms: msg.ms as number });
    else if (path === '/_control/delay') this.delayMs = msg.ms as number;
    res.writeHead(204);
    res.end();
  }

  at(prefix: string): Received[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections(); // hung requests too
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
