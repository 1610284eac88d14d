// A stand-in for Grafana's Annotations HTTP API (Grafana itself is not installable here: not in Debian, not
// on npm), as its documentation describes it: GET /api/annotations filtered by dashboardUID, type and tags
// (all must match), POST creates ({message, id}), PATCH /api/annotations/:id updates the fields sent;
// every call needs the service-account bearer token. It can answer a scripted failure first.
import { createServer, type Server } from 'node:http';

export interface Annotation {
  id: number;
  dashboardUID?: string;
  time: number;
  timeEnd: number;
  tags: string[];
  text: string;
}

export class FakeGrafana {
  readonly annotations: Annotation[] = [];
  readonly calls: string[] = [];
  /** status codes to answer before handling, consumed in order */
  failFirst: number[] = [];
  url = '';
  private server: Server | null = null;

  constructor(private readonly token: string) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://grafana');
        this.calls.push(`${req.method} ${u.pathname}`);
        const send = (code: number, json: unknown) => {
          res.writeHead(code, { 'content-type': 'application/json' });
          res.end(JSON.stringify(json));
        };
        if (req.headers.authorization !== `Bearer ${this.token}`) return send(401, { message: 'Unauthorized' });
        const fail = this.failFirst.shift();
        if (fail) return send(fail, { message: 'scripted failure' });
        if (req.method === 'GET' && u.pathname === '/api/annotations') {
          const tags = u.searchParams.getAll('tags');
          const uid = u.searchParams.get('dashboardUID');
          const limit = Number(u.searchParams.get('limit') ?? 100);
          return send(
            200,
            this.annotations
              .filter((a) => (!uid || a.dashboardUID === uid) && tags.every((t) => a.tags.includes(t)))
              .slice(0, limit),
          );
        }
        const b = (body ? JSON.parse(body) : {}) as Partial<Annotation>;
        if (req.method === 'POST' && u.pathname === '/api/annotations') {
          if (typeof b.text !== 'string') return send(400, { message: 'text is required' });
          const a: Annotation = {
            id: this.annotations.length + 1,
            ...(b.dashboardUID ? { dashboardUID: b.dashboardUID } : {}),
            time: b.time ?? Date.now(),
            timeEnd: b.timeEnd ?? b.time ?? Date.now(),
            tags: b.tags ?? [],
            text: b.text,
          };
          this.annotations.push(a);
          return send(200, { message: 'Annotation added', id: a.id });
        }
        const m = /^\/api\/annotations\/(\d+)$/.exec(u.pathname);
        if (req.method === 'PATCH' && m) {
          const a = this.annotations.find((x) => x.id === Number(m[1]));
          if (!a) return send(404, { message: 'Annotation not found' });
          if (b.time !== undefined) a.time = b.time;
          if (b.timeEnd !== undefined) a.timeEnd = b.timeEnd;
          if (b.tags !== undefined) a.tags = b.tags;
          if (b.text !== undefined) a.text = b.text;
          return send(200, { message: 'Annotation patched' });
        }
        return send(404, { message: 'Not found' });
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
