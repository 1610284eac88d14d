// Bearer tokens with roles, compared by SHA-256 (the config may hold only the hash). With no tokens
// configured, every caller is an anonymous admin, which is why the server then refuses to listen beyond
// loopback (see listenAddress).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Actor } from '../deploys/service.js';
import { AppError } from '../deploys/errors.js';
import type { Role } from '../policy/approvals.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class Auth {
  private readonly tokens: { name: string; role: Role; hash: Buffer }[];

  constructor(config: Config) {
    this.tokens = config.auth.tokens.map((t) => ({
      name: t.name,
      role: t.role,
      hash: t.sha256 ? Buffer.from(t.sha256, 'hex') : sha256(t.token as string),
    }));
  }

  get enabled(): boolean {
    return this.tokens.length > 0;
  }

  /** The caller, from the Authorization header; throws 401 when tokens are configured and it is missing or wrong. */
  actor(header: string | undefined): Actor {
    if (!this.enabled) return { name: 'anonymous', role: 'admin' };
    const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
    if (!m) throw new AppError(401, 'UNAUTHORIZED', 'an Authorization: Bearer <token> header is required');
    const h = sha256((m[1] as string).trim());
    const t = this.tokens.find((x) => timingSafeEqual(x.hash, h));
    if (!t) throw new AppError(401, 'UNAUTHORIZED', 'unknown token');
    return { name: t.name, role: t.role };
  }

  /** Throws 403 unless the actor has one of the roles (admin always may). */
  require(actor: Actor, ...roles: Role[]): void {
    if (actor.role === 'admin' || roles.includes(actor.role)) return;
    throw new AppError(403, 'FORBIDDEN_ROLE', `the ${actor.role} role may not do this; it needs ${roles.join(' or ')}`);
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** host and port from "host:port"; refuses a non-loopback host when no tokens are configured. */
export function listenAddress(listen: string, authEnabled: boolean): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new AppError(400, 'BAD_CONFIG', `server.listen: "${listen}" is not host:port`);
  const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1');
  if (!authEnabled && !LOOPBACK.has(host) && !LOOPBACK.has(m[1] as string)) {
    throw new AppError(
      400,
      'BAD_CONFIG',
      `server.listen: refusing to listen on ${listen} with no auth.tokens configured; configure tokens or listen on 127.0.0.1`,
    );
  }
  return { host, port: Number(m[2]) };
}

/**
 * Fastify's rewriteUrl: on integration routes (`/v1/integrations/...`, contracts §7), a `?token=` query
 * parameter stands for the bearer token, for clients that cannot send headers (Flagger's webhooks). The
 * token is taken out of the URL before routing and before any log line sees the request, so it is never
 * logged, stored or echoed; an Authorization header, when present, wins.
 */
export function moveQueryToken(req: {
  url?: string;
  originalUrl?: string;
  headers: Record<string, string | string[] | undefined>;
}): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if (q < 0 || !url.startsWith('/v1/integrations/')) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  if (!params.has('token')) return url;
  const token = params.get('token') ?? '';
  params.delete('token');
  if (!req.headers.authorization && token) req.headers.authorization = `Bearer ${token}`;
  const rest = params.toString();
  const clean = rest ? `${url.slice(0, q)}?${rest}` : url.slice(0, q);
  // Fastify keeps the URL as received in originalUrl: the token must not survive there either.
  req.originalUrl = clean;
  return clean;
}
