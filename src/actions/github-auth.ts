// Credentials for GitHub's REST API: a token from the config (a PAT or fine-grained token: enough for
// deployment statuses), or a GitHub App (needed to answer a deployment protection rule: GitHub accepts a
// review only from the App that owns the rule). An App authenticates with a JWT (RS256, signed with its
// private key, iss = app id, at most 10 minutes) and exchanges it for an installation access token
// (POST /app/installations/{id}/access_tokens, valid one hour), cached here until a minute before it expires.
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';

export type GitHubConfig = NonNullable<Config['github']>;
type Fetch = typeof globalThis.fetch;

/** The headers GitHub's REST documentation asks every call to send. */
export function githubHeaders(token: string): Record<string, string> {
  return {
    accept: 'application/vnd.github+json',
    authorization: `Bearer ${token}`,
    'x-github-api-version': '2022-11-28',
    'user-agent': 'navigator-deploy-guard',
    'content-type': 'application/json',
  };
}

/** Problems the schema cannot see: which credentials are set, and a key that does not read. */
export function githubProblems(config: Config): string[] {
  const g = config.github;
  if (!g) return [];
  const out: string[] = [];
  const app = g.appId !== undefined;
  if (!g.token && !app) out.push('github: set github.token, or github.appId with github.privateKey');
  if (app && !g.privateKey && !g.privateKeyFile)
    out.push('github.appId: needs github.privateKey or github.privateKeyFile');
  if (!app && (g.privateKey || g.privateKeyFile)) out.push('github.privateKey: needs github.appId');
  if (g.webhookSecret && !app)
    out.push(
      'github.webhookSecret: a deployment protection rule is answered as a GitHub App: set github.appId and github.privateKey',
    );
  if (g.privateKeyFile) {
    try {
      readFileSync(g.privateKeyFile, 'utf8');
    } catch (e) {
      out.push(`github.privateKeyFile: cannot read ${g.privateKeyFile}: ${(e as Error).message}`);
    }
  }
  return out;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** A GitHub App JWT: issued a minute in the past (clock drift, as GitHub recommends), valid 9 minutes. */
export function appJwt(appId: number, privateKeyPem: string, nowS: number): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const iat = Math.floor(nowS) - 60;
  const payload = b64url(JSON.stringify({ iat, exp: iat + 600, iss: String(appId) }));
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(privateKeyPem);
  return `${header}.${payload}.${b64url(signature)}`;
}

export class GitHubError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfter = 0,
  ) {
    super(message);
  }
}

/** Seconds to wait from GitHub's rate-limit headers (Retry-After, or x-ratelimit-reset when none remain). */
export function rateLimitWait(h: Headers, nowS: number): number {
  const after = Number(h.get('retry-after'));
  if (Number.isFinite(after) && after > 0) return after;
  if (h.get('x-ratelimit-remaining') === '0') {
    const reset = Number(h.get('x-ratelimit-reset'));
    if (Number.isFinite(reset)) return Math.max(0, reset - nowS);
  }
  return 0;
}

export class GitHubAuth {
  private readonly installationTokens = new Map<number, { token: string; until: number }>();
  private readonly installations = new Map<string, number>();
  private key: string | null = null;

  constructor(
    private readonly cfg: GitHubConfig,
    private readonly fetch: Fetch,
    private readonly now: () => number,
    private readonly timeoutMs: () => number,
  ) {}

  get isApp(): boolean {
    return this.cfg.appId !== undefined;
  }

  url(path: string): string {
    return `${this.cfg.apiUrl.replace(/\/+$/, '')}${path}`;
  }

  private privateKey(): string {
    this.key ??= this.cfg.privateKey ?? readFileSync(this.cfg.privateKeyFile as string, 'utf8');
    return this.key;
  }

  private jwt(): string {
    return appJwt(this.cfg.appId as number, this.privateKey(), this.now());
  }

  /** A token for calls on `repository`: the config's token, or the App's installation token. */
  async token(repository: string, installationId?: number): Promise<string> {
    if (!this.isApp) return this.cfg.token as string;
    const id = installationId ?? this.cfg.installationId ?? (await this.installationOf(repository));
    const cached = this.installationTokens.get(id);
    if (cached && cached.until > this.now()) return cached.token;
    const body = await this.call<{ token?: string; expires_at?: string }>(
      'POST',
      `/app/installations/${id}/access_tokens`,
      this.jwt(),
    );
    if (typeof body.token !== 'string') throw new GitHubError('installation access token: no token in the answer', 502);
    const expires = Date.parse(body.expires_at ?? '') / 1000;
    this.installationTokens.set(id, {
      token: body.token,
      until: (Number.isFinite(expires) ? expires : this.now() + 3600) - 60,
    });
    return body.token;
  }

  /** A 401 on a call: the cached token may have been revoked; the next attempt gets a new one. */
  forget(installationId?: number): void {
    if (installationId !== undefined) this.installationTokens.delete(installationId);
    else this.installationTokens.clear();
  }

  private async installationOf(repository: string): Promise<number> {
    const known = this.installations.get(repository.toLowerCase());
    if (known !== undefined) return known;
    const body = await this.call<{ id?: number }>('GET', `/repos/${repository}/installation`, this.jwt());
    if (typeof body.id !== 'number')
      throw new GitHubError(`the GitHub App is not installed on ${repository} (no installation id)`, 404);
    this.installations.set(repository.toLowerCase(), body.id);
    return body.id;
  }

  /** One REST call; throws GitHubError with the status (0: no answer) and any rate-limit wait. */
  async call<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetch(this.url(path), {
        method,
        headers: githubHeaders(token),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs()),
      });
    } catch (e) {
      throw new GitHubError(`${method} ${path}: ${(e as Error).message}`, 0);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok)
      throw new GitHubError(
        `${method} ${path}: HTTP ${res.status}: ${text.slice(0, 200)}`,
        res.status,
        rateLimitWait(res.headers, this.now()),
      );
    return (text ? JSON.parse(text) : {}) as T;
  }
}
