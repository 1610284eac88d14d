// A local server that plays GitHub for Navigator's calls, with the shapes of GitHub's REST documentation:
// - POST /app/installations/{id}/access_tokens (a GitHub App JWT: RS256, iss = app id, exp - iat <= 600),
//   answering 201 {token, expires_at};
// - GET /repos/{owner}/{repo}/installation (JWT): 200 {id};
// - GET /repos/{owner}/{repo}/deployments?ref&environment: 200 [deployments];
// - POST /repos/{owner}/{repo}/deployments: 201 {id, ref, environment, payload, ...};
// - POST /repos/{owner}/{repo}/deployments/{id}/statuses: 201 {id, state, ...}, 422 on a state or a
//   description GitHub would refuse (description over 140 characters);
// - POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule: 204.
// Every call must carry Accept: application/vnd.github+json and X-GitHub-Api-Version; a token must be one
// it issued (or the configured PAT). `failNext` scripts 5xx answers per path prefix. It records everything.
import { createPublicKey, createVerify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface GitHubCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  status: number;
}

const STATES = new Set(['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success']);

export class FakeGitHub {
  readonly calls: GitHubCall[] = [];
  readonly deployments: { id: number; repo: string; ref: string; environment: string; payload: unknown }[] = [];
  /** path prefix -> statuses to answer before behaving (e.g. [502, 503]) */
  readonly failNext = new Map<string, number[]>();
  private readonly tokens = new Set<string>();
  private server: Server | null = null;
  private nextId = 9000;
  url = '';

  constructor(
    private readonly o: {
      pat?: string;
      appId?: number;
      publicKeyPem?: string;
      installationId?: number;
      /** GitHub Enterprise: the API lives under /api/v3 */
      prefix?: string;
    } = {},
  ) {
    if (o.pat) this.tokens.add(o.pat);
  }

  get apiUrl(): string {
    return `${this.url}${this.o.prefix ?? ''}`;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        let body: unknown = null;
        try {
          body = raw ? JSON.parse(raw) : null;
        } catch {
          body = raw;
        }
        const { status, answer } = this.answer(req.method ?? '', req.url ?? '', req.headers, body);
        this.calls.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, status });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 204 ? '' : JSON.stringify(answer));
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

  /** Calls to paths starting with prefix (under the API prefix), answered 2xx or not. */
  at(prefix: string, method = 'POST'): GitHubCall[] {
    const p = `${this.o.prefix ?? ''}${prefix}`;
    return this.calls.filter((c) => c.method === method && c.path.startsWith(p));
  }

  private answer(
    method: string,
    url: string,
    h: IncomingHttpHeaders,
    body: unknown,
  ): { status: number; answer: unknown } {
    const prefix = this.o.prefix ?? '';
    if (!url.startsWith(prefix)) return { status: 404, answer: { message: 'Not Found' } };
    const path = url.slice(prefix.length).split('?')[0] ?? '';
    if (h.accept !== 'application/vnd.github+json' || !h['x-github-api-version'])
      return { status: 415, answer: { message: 'Accept: application/vnd.github+json and X-GitHub-Api-Version' } };
    if (!h['user-agent']) return { status: 403, answer: { message: 'a User-Agent is required' } };
    const bearer = /^Bearer (.+)$/.exec(String(h.authorization ?? ''))?.[1] ?? '';
    const scripted = [...this.failNext.entries()].find(([k, v]) => path.startsWith(k) && v.length > 0);
    if (scripted) return { status: scripted[1].shift() as number, answer: { message: 'scripted outage' } };

    const appPath = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    const installation = /^\/repos\/[^/]+\/[^/]+\/installation$/.exec(path);
    if (appPath || installation) {
      const why = this.checkJwt(bearer);
      if (why) return { status: 401, answer: { message: why } };
      if (installation) return { status: 200, answer: { id: this.o.installationId ?? 1 } };
      if (method !== 'POST') return { status: 404, answer: { message: 'Not Found' } };
      if (Number(appPath?.[1]) !== (this.o.installationId ?? 1))
        return { status: 404, answer: { message: 'Not Found' } };
      const token = `ghs_${this.nextId++}`;
      this.tokens.add(token);
      return {
        status: 201,
        answer: {
          token,
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          permissions: { deployments: 'write' },
        },
      };
    }
    if (!this.tokens.has(bearer)) return { status: 401, answer: { message: 'Bad credentials' } };

    const deployments = /^\/repos\/([^/]+\/[^/]+)\/deployments$/.exec(path);
    if (deployments && method === 'GET') {
      const q = new URL(url, 'http://x').searchParams;
      const repo = deployments[1] as string;
      return {
        status: 200,
        answer: this.deployments.filter(
          (d) =>
            d.repo === repo &&
            (!q.get('ref') || d.ref === q.get('ref')) &&
            (!q.get('environment') || d.environment === q.get('environment')),
        ),
      };
    }
    if (deployments && method === 'POST') {
      const b = body as { ref?: string; environment?: string; payload?: unknown };
      if (typeof b?.ref !== 'string') return { status: 422, answer: { message: 'ref is required' } };
      const d = {
        id: this.nextId++,
        repo: deployments[1] as string,
        ref: b.ref,
        environment: b.environment ?? 'production',
        payload: b.payload ?? {},
      };
      this.deployments.push(d);
      return { status: 201, answer: { ...d, sha: b.ref, task: 'deploy' } };
    }
    const statuses = /^\/repos\/[^/]+\/[^/]+\/deployments\/(\d+)\/statuses$/.exec(path);
    if (statuses && method === 'POST') {
      const b = body as { state?: string; description?: string };
      if (!STATES.has(b?.state ?? '')) return { status: 422, answer: { message: `state ${b?.state} is invalid` } };
      if ((b.description ?? '').length > 140)
        return { status: 422, answer: { message: 'description is too long (maximum is 140 characters)' } };
      return { status: 201, answer: { id: this.nextId++, state: b.state, deployment_id: Number(statuses[1]) } };
    }
    if (/^\/repos\/[^/]+\/[^/]+\/actions\/runs\/\d+\/deployment_protection_rule$/.test(path) && method === 'POST') {
      const b = body as { environment_name?: unknown; state?: unknown; comment?: unknown };
      if (typeof b?.environment_name !== 'string' || (b.state !== 'approved' && b.state !== 'rejected'))
        return { status: 422, answer: { message: 'environment_name and state (approved | rejected) are required' } };
      if (!bearer.startsWith('ghs_'))
        return { status: 403, answer: { message: 'only the GitHub App of the rule can review it' } };
      return { status: 204, answer: null };
    }
    return { status: 404, answer: { message: 'Not Found' } };
  }

  /** Why a GitHub App JWT is not acceptable, or null. */
  private checkJwt(jwt: string): string | null {
    if (!this.o.publicKeyPem || this.o.appId === undefined) return 'no GitHub App here';
    const [h, p, s] = jwt.split('.');
    if (!h || !p || !s) return 'A JSON web token could not be decoded';
    const key: KeyObject = createPublicKey(this.o.publicKeyPem);
    const ok = createVerify('RSA-SHA256').update(`${h}.${p}`).verify(key, Buffer.from(s, 'base64url'));
    if (!ok) return 'the JWT signature does not verify';
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { iat?: number; exp?: number; iss?: string };
    if (header.alg !== 'RS256') return 'alg must be RS256';
    if (claims.iss !== String(this.o.appId)) return 'iss is not the app id';
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp - claims.iat > 600)
      return "'exp' too far in the future";
    return null;
  }
}
