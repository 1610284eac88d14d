// Sign-in for the on-call page: a person pastes their Navigator token once; the server keeps the identity
// (never the token) in a session and gives the browser a random session id in a cookie that scripts cannot
// read (HttpOnly), that no other site can make the browser send (SameSite=Strict), and that travels only
// over https when Navigator is behind https (Secure). Every form also carries the session's CSRF token,
// checked on each POST. Sessions live in memory: a restart signs everyone out (the tokens stay valid), and
// with several replicas a load balancer must keep a browser on one replica.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Actor } from '../deploys/service.js';

export const COOKIE = 'navigator_session';
const TTL = 12 * 3600;
const MAX_SESSIONS = 10_000;

export interface Session {
  id: string;
  actor: Actor;
  csrf: string;
  expires: number;
  flash: string | null;
}

export class Sessions {
  private readonly byId = new Map<string, Session>();
  constructor(private readonly now: () => number) {}

  create(actor: Actor): Session {
    this.sweep();
    const s: Session = {
      id: randomBytes(32).toString('base64url'),
      actor,
      csrf: randomBytes(32).toString('base64url'),
      expires: this.now() + TTL,
      flash: null,
    };
    this.byId.set(s.id, s);
    return s;
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.byId.get(id);
    if (!s) return null;
    if (s.expires < this.now()) {
      this.byId.delete(id);
      return null;
    }
    return s;
  }

  destroy(id: string): void {
    this.byId.delete(id);
  }

  private sweep(): void {
    const t = this.now();
    for (const [id, s] of this.byId) if (s.expires < t) this.byId.delete(id);
    // Bounded: the oldest sessions go first when a flood of sign-ins would grow the map without end.
    while (this.byId.size >= MAX_SESSIONS) this.byId.delete(this.byId.keys().next().value as string);
  }
}

export function csrfOk(s: Session, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(s.csrf);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

export function sessionCookie(id: string, secure: boolean, maxAge = TTL): string {
  return `${COOKIE}=${id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}
