// The on-call page (contracts §7): GET /ui/ lists deploys, /ui/deploys/{id} shows one, /ui/audit the audit
// log; sign-in with a token at /ui/login. Pages are rendered on the server; forms post back here with the
// session's CSRF token and redirect (303) to the deploy, so a reload never repeats an action. Every action
// goes through the deploy service (the same rules and audit entries as the API). GET
// /v1/deploys/{id}/series gives the charts' data to API clients.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyAuditChain } from '../audit/verify.js';
import type { Config } from '../config/schema.js';
import { AppError } from '../deploys/errors.js';
import type { Actor } from '../deploys/service.js';
import { STATUSES, type DeployStatus } from '../policy/lifecycle.js';
import type { Deploy } from '../model/deploy.js';
import type { MetricSource } from '../sources/types.js';
import type { Store } from '../store/types.js';
import { restoreWatch } from '../watch/persist.js';
import { acknowledgeDeploy, type PeopleDeps } from '../http/people-actions.js';
import type { Viewer } from './html.js';
import { auditPage, deployPage, errorPage, listPage, loginPage } from './pages.js';
import { deploySeries, type DeploySeries } from './series.js';
import { COOKIE, Sessions, cookieValue, csrfOk, sessionCookie, type Session } from './session.js';
import { CSS } from './static.js';

export interface UiDeps extends PeopleDeps {
  config: Config;
  source?: MetricSource;
  store: PeopleDeps['store'] & Pick<Store, 'audit' | 'createSession' | 'session' | 'setSessionFlash' | 'deleteSession'>;
}

const CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** The charts read the source again; a slow source must not hold up the page. */
const SERIES_TIMEOUT_MS = 2000;

type Form = Record<string, string>;

function parseForm(body: string): Form {
  const out: Form = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

export function uiRoutes(deps: UiDeps) {
  const sessions = new Sessions(deps.store, deps.now);
  const { service, auth, config } = deps;

  const secure = (req: FastifyRequest) =>
    (config.server.publicUrl ?? '').startsWith('https://') ||
    req.protocol === 'https' ||
    req.headers['x-forwarded-proto'] === 'https';

  const send = (reply: FastifyReply, status: number, body: string) =>
    reply
      .status(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .send(body);

  const viewerOf = (s: Session): Viewer => ({ name: s.actor.name, role: s.actor.role, csrf: s.csrf });

  /** The signed-in session; without tokens configured everyone is the anonymous admin (loopback only). */
  const session = async (req: FastifyRequest, reply: FastifyReply): Promise<Session | null> => {
    const s = await sessions.get(cookieValue(req.headers.cookie, COOKIE));
    if (s) return s;
    if (!auth.enabled) {
      const fresh = await sessions.create(auth.actor(undefined));
      reply.header('set-cookie', sessionCookie(fresh.id, secure(req)));
      return fresh;
    }
    return null;
  };

  const toLogin = (req: FastifyRequest, reply: FastifyReply) => {
    const next = req.url.startsWith('/ui/') ? req.url : '/ui/';
    return reply.redirect(`/ui/login?next=${encodeURIComponent(next)}`, 303);
  };

  const takeFlash = (s: Session) => sessions.takeFlash(s);

  async function seriesOf(d: Deploy, row: { watch: string | null }): Promise<DeploySeries | null> {
    if (!deps.source) return null;
    const w = service.watcher.get(d.id) ?? (row.watch ? restoreWatch(row.watch, d) : null);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DeploySeries>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`no answer within ${SERIES_TIMEOUT_MS} ms`)), SERIES_TIMEOUT_MS);
    });
    try {
      return await Promise.race([
        deploySeries(config, deps.source, d, w, deps.now(), config.evaluation.absentAfter),
        timeout,
      ]);
    } catch (e) {
      return {
        deploy: d.id,
        step: 0,
        from: 0,
        to: 0,
        startedAt: d.startedAt,
        signals: [],
        error: (e as Error).message,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  return (app: FastifyInstance) =>
    app.register(async (scope) => {
      scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
        done(null, parseForm(body as string)),
      );
      const form = (req: FastifyRequest): Form => (req.body && typeof req.body === 'object' ? (req.body as Form) : {});

      scope.get('/ui', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/', 301));
      scope.get('/ui/static/ui.css', { schema: { hide: true } }, async (_req, reply) =>
        reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(CSS),
      );

      scope.get('/ui/login', { schema: { hide: true } }, async (req, reply) => {
        const next = String((req.query as Record<string, unknown>).next ?? '/ui/');
        return send(reply, 200, loginPage(null, next));
      });
      scope.post('/ui/login', { schema: { hide: true } }, async (req, reply) => {
        const f = form(req);
        const next = f.next?.startsWith('/ui/') && !f.next.startsWith('//') ? f.next : '/ui/';
        let actor: Actor;
        try {
          actor = auth.actor(`Bearer ${f.token ?? ''}`);
        } catch {
          return send(reply, 401, loginPage('That token is not known to this Navigator.', next));
        }
        // A new session id at every sign-in (no fixation); the token itself is forgotten here.
        const old = cookieValue(req.headers.cookie, COOKIE);
        if (old) await sessions.destroy(old);
        const s = await sessions.create(actor);
        return reply.header('set-cookie', sessionCookie(s.id, secure(req))).redirect(next, 303);
      });
      scope.post('/ui/logout', { schema: { hide: true } }, async (req, reply) => {
        const s = await sessions.get(cookieValue(req.headers.cookie, COOKIE));
        if (s && csrfOk(s, form(req).csrf)) await sessions.destroy(s.id);
        return reply.header('set-cookie', sessionCookie('', secure(req), 0)).redirect('/ui/login', 303);
      });

      scope.get('/ui/', { schema: { hide: true } }, async (req, reply) => {
        const s = await session(req, reply);
        if (!s) return toLogin(req, reply);
        const q = String((req.query as Record<string, unknown>).status ?? '');
        const status = STATUSES.includes(q as DeployStatus) ? q : null;
        const deploys = await service.list(status ?? undefined, 200);
        return send(reply, 200, listPage(viewerOf(s), deploys, status, deps.now(), await takeFlash(s)));
      });

      scope.get('/ui/deploys/:id', { schema: { hide: true } }, async (req, reply) => {
        const s = await session(req, reply);
        if (!s) return toLogin(req, reply);
        const id = (req.params as { id: string }).id;
        const row = await deps.store.getDeploy(id);
        if (!row) return send(reply, 404, errorPage(viewerOf(s), 404, `No deploy ${id}.`));
        const view = await service.view(id);
        const series = await seriesOf(JSON.parse(row.deploy) as Deploy, row);
        const audit = await deps.store.audit(0, 500, id);
        return send(reply, 200, deployPage(viewerOf(s), view, series, audit, await takeFlash(s)));
      });

      // Actions: CSRF-checked, then the same service calls as the API; the outcome is the next page's flash.
      const act = (name: string, run: (id: string, actor: Actor, f: Form) => Promise<string>) =>
        scope.post(`/ui/deploys/:id/${name}`, { schema: { hide: true } }, async (req, reply) => {
          const s = await sessions.get(cookieValue(req.headers.cookie, COOKIE));
          if (!s) return toLogin(req, reply);
          const f = form(req);
          if (!csrfOk(s, f.csrf))
            return send(
              reply,
              403,
              errorPage(
                viewerOf(s),
                403,
                'The form is stale or came from elsewhere (CSRF check failed). Reload the page and try again.',
              ),
            );
          const id = (req.params as { id: string }).id;
          let flash: string;
          try {
            flash = await run(id, s.actor, f);
          } catch (e) {
            if (!(e instanceof AppError) || e.statusCode >= 500) throw e;
            if (e.statusCode === 404) return send(reply, 404, errorPage(viewerOf(s), 404, e.message));
            flash = `Refused: ${e.message}`;
          }
          await sessions.setFlash(s, flash);
          return reply.redirect(`/ui/deploys/${encodeURIComponent(id)}`, 303);
        });
      act('approve', async (id, actor, f) => {
        const v = await service.approve(id, actor, f.comment ?? '');
        return `Approved by ${actor.name}. Now ${v.status.replace(/_/g, ' ')}: ${v.reason}`;
      });
      act('override', async (id, actor, f) => {
        const v = await service.override(id, actor, f.action, f.reason);
        return `Override by ${actor.name}. Now ${v.status.replace(/_/g, ' ')}: ${v.reason}`;
      });
      act('acknowledge', async (id, actor, f) => {
        const r = await acknowledgeDeploy(deps, id, actor, f.comment ?? '');
        return `Acknowledged by ${actor.name}; ${r.resolves} page(s) resolved.`;
      });

      scope.get('/ui/audit', { schema: { hide: true } }, async (req, reply) => {
        const s = await session(req, reply);
        if (!s) return toLogin(req, reply);
        if (s.actor.role !== 'approver' && s.actor.role !== 'admin')
          return send(
            reply,
            403,
            errorPage(
              viewerOf(s),
              403,
              `The audit log is for approvers and admins; you are signed in as ${s.actor.name} (${s.actor.role}).`,
            ),
          );
        const deploy = String((req.query as Record<string, unknown>).deploy ?? '').trim() || null;
        const rows = (await deps.store.audit(0, 100_000, deploy ?? undefined)).slice(-1000).reverse();
        const chain = verifyAuditChain(await deps.store.audit(0, 10_000_000));
        return send(reply, 200, auditPage(viewerOf(s), rows, chain, deploy));
      });

      scope.get(
        '/v1/deploys/:id/series',
        { schema: { summary: "Per-tick series of a deploy's signals (the page's charts)" } },
        async (req) => {
          auth.actor(req.headers.authorization);
          const id = (req.params as { id: string }).id;
          const row = await deps.store.getDeploy(id);
          if (!row) throw new AppError(404, 'NOT_FOUND', `deploy ${id} not found`);
          return seriesOf(JSON.parse(row.deploy) as Deploy, row);
        },
      );
    });
}
