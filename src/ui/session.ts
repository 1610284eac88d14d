// Sign-in for the on-call page: a person pastes their Navigator token once; the server keeps the identity
// (never the token) in a session and gives the browser a random session id in a cookie that scripts cannot
// read (HttpOnly), that no other site can make the browser send (SameSite=Strict), and that travels only
// over https when Navigator is behind https (Secure). Every form also carries the session's CSRF token,
// checked on each POST. Sessions live in the store (migration 42), under the SHA-256 of their id: every
// replica behind a load balancer knows a browser that signed in on another one, a restart signs nobody
// out, and a session expires 12 hours after sign-in wherever it is read.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Actor } from '../deploys/service.js';
import type { Store } from '../store/types.js';

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

type SessionStore = Pick<Store, 'createSession' | 'session' | 'setSessionFlash' | 'deleteSession'>;

/** The key a session is stored under: a copy of the database gives no cookie that signs anyone in. */
const key = (id: string) => createHash('sha256').update(id).digest('hex');

export class Sessions {
  constructor(
    private readonly store: SessionStore,
    private readonly now: () => number,
  ) {}

  async create(actor: Actor): Promise<Session> {
    const now = this.now();
    const s: Session = {
      id: randomBytes(32).toString('base64url'),
      actor,
      csrf: randomBytes(32).toString('base64url'),
      expires: now + TTL,
      flash: null,
    };
    // Bounded: expired sessions go, and the oldest when a flood of sign-ins would grow the table without end.
    await this.store.createSession(
      {
        id: key(s.id),
        actor: JSON.stringify({ name: actor.name, role: actor.role, identities: actor.identities }),
        csrf: s.csrf,
        flash: null,
        created_at: now,
        expires_at: s.expires,
      },
      now,
      MAX_SESSIONS,
    );
    return s;
  }

  async get(id: string | undefined): Promise<Session | null> {
    if (!id) return null;
    const r = await this.store.session(key(id), this.now());
    if (!r) return null;
    return { id, actor: JSON.parse(r.actor) as Actor, csrf: r.csrf, expires: r.expires_at, flash: r.flash };
  }

  async destroy(id: string): Promise<void> {
    await this.store.deleteSession(key(id));
  }

  /** The message for the session's next page (an action's outcome). */
  async setFlash(s: Session, flash: string): Promise<void> {
    s.flash = flash;
    await this.store.setSessionFlash(key(s.id), flash);
  }

  /** The message, once: read and cleared. */
  async takeFlash(s: Session): Promise<string | null> {
    const f = s.flash;
    if (f === null) return null;
    s.flash = null;
    await this.store.setSessionFlash(key(s.id), null);
    return f;
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
