// The on-call page's views: sign-in, the deploys, one deploy (timeline, evidence and charts, blindness,
// approvals, the actions the viewer's role allows) and the audit log. Pure: data in, HTML out.
import type { DeployView } from '../deploys/view.js';
import type { Evidence } from '../model/verdict.js';
import { overrideTarget, STATUSES, type DeployStatus } from '../policy/lifecycle.js';
import type { AuditRow } from '../store/types.js';
import { chartSvg } from './chart.js';
import { age, h, layout, time, type Html, type Viewer } from './html.js';
import type { DeploySeries } from './series.js';

const label = (s: string) => s.replace(/_/g, ' ');
const badge = (s: string) => h`<span class="status s-${s}">${label(s)}</span>`;
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const iso = (t: number) => new Date(t * 1000).toISOString();

export function loginPage(message: string | null, next: string): string {
  return layout(
    'Sign in',
    h`<h1>Sign in</h1>
      <p>
        Paste your Navigator token (the one your pipeline or on-call role was given). It is sent once, in this form's
        body, and never put in a URL; the browser keeps only a session cookie.
      </p>
      ${message ? h`<p class="flash error" role="alert">${message}</p>` : ''}
      <form method="post" action="/ui/login">
        <input type="hidden" name="next" value="${next}" />
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
        <p><button type="submit">Sign in</button></p>
      </form>`,
    null,
  );
}

export function errorPage(viewer: Viewer | null, status: number, message: string): string {
  return layout(
    `Error ${status}`,
    h`<h1>${status === 404 ? 'Not found' : 'Cannot do that'}</h1>
      <p class="flash error" role="alert">${message}</p>
      <p><a href="/ui/">Back to the deploys</a></p>`,
    viewer,
  );
}

export function listPage(
  viewer: Viewer,
  deploys: DeployView[],
  status: string | null,
  now: number,
  flash: string | null,
): string {
  const rows = deploys.map(
    (d) =>
      h`<tr>
        <td data-label="Deploy"><a href="/ui/deploys/${encodeURIComponent(d.id)}">${d.id}</a></td>
        <td data-label="Status">${badge(d.status)}${d.blind ? h` <strong>blind</strong>` : ''}</td>
        <td data-label="Service">${d.service} ${d.version}</td>
        <td data-label="Change">
          ${d.change ? `${d.change.id} ${d.change.title}`.trim() : h`<span class="muted">none</span>`}${d.change?.author ? h` <span class="muted">by ${d.change.author}</span>` : ''}
        </td>
        <td data-label="Age">${age(now - Date.parse(d.startedAt) / 1000)}</td>
      </tr>`,
  );
  return layout(
    'Deploys',
    h`<h1>Deploys</h1>
      <form class="filters" method="get" action="/ui/">
        <div>
          <label for="status">Status</label>
          <select id="status" name="status">
            <option value="">all</option>
            ${STATUSES.map((s) => h`<option value="${s}" ${s === status ? h` selected` : ''}>${label(s)}</option>`)}
          </select>
        </div>
        <button type="submit">Filter</button>
      </form>
      <p class="muted">${deploys.length} deploy(s)${status ? ` ${label(status)}` : ''}, newest first.</p>
      <table class="deploys">
        <thead>
          <tr>
            <th scope="col">Deploy</th>
            <th scope="col">Status</th>
            <th scope="col">Service</th>
            <th scope="col">Change</th>
            <th scope="col">Age</th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>`,
    viewer,
    flash,
  );
}

function numbers(e: Evidence): Html {
  return h`<dl class="nums">
    <dt>Effect</dt>
    <dd>${pct(e.effect.estimate)} (95% interval ${pct(e.effect.low)} to ${pct(e.effect.high)})</dd>
    <dt>Evidence</dt>
    <dd>${e.statistic.toFixed(2)} of ${e.threshold.toFixed(2)} needed (ln e-value; ${e.test})</dd>
    <dt>Tolerated</dt>
    <dd>changes within ${pct(e.tolerance)}; dispersion ${e.dispersion.toFixed(2)}</dd>
    <dt>Data</dt>
    <dd>
      ${e.ticks} ticks;
      ${Object.entries(e.counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}
    </dd>
    ${
      e.forecast
        ? h`<dt>Forecast</dt>
            <dd>
              expected ${e.forecast.expected.toFixed(1)}, observed ${e.forecast.observed.toFixed(1)}, margin
              ${pct(e.forecast.margin)} (from ${e.forecast.lags.join(', ')})
            </dd>`
        : ''
    }
    ${
      e.absent
        ? h`<dt>Absent</dt>
            <dd>the new version reported nothing while events were due</dd>`
        : ''
    }
  </dl>`;
}

interface Action {
  name: string;
  allowed: boolean;
}

export function actionsFor(viewer: Viewer, d: DeployView): Action[] {
  const people = viewer.role === 'approver' || viewer.role === 'admin';
  const st = d.status as DeployStatus;
  const approvable =
    st === 'watching' || st === 'awaiting_approval' || (st === 'pending_approval' && d.hold !== 'freeze');
  return [
    {
      name: 'approve',
      allowed:
        people &&
        approvable &&
        !d.approvals.some(
          (a) => a.approver === viewer.name && a.phase === (st === 'pending_approval' ? 'start' : 'promote'),
        ),
    },
    { name: 'halt', allowed: people && 'to' in overrideTarget(st, 'halt') },
    { name: 'proceed', allowed: viewer.role === 'admin' && 'to' in overrideTarget(st, 'proceed') },
    { name: 'acknowledge', allowed: people },
  ];
}

function actionForms(viewer: Viewer, d: DeployView): Html {
  const allowed = new Set(
    actionsFor(viewer, d)
      .filter((a) => a.allowed)
      .map((a) => a.name),
  );
  const base = `/ui/deploys/${encodeURIComponent(d.id)}`;
  const csrf = h`<input type="hidden" name="csrf" value="${viewer.csrf}" />`;
  if (allowed.size === 0)
    return h`<p class="muted">
      Your role (${viewer.role}) has no actions on this
      deploy${viewer.role === 'pipeline' ? ': approvals, overrides and acknowledgements are for people (approver or admin tokens)' : ''}.
    </p>`;
  return h`<div class="actions">
    ${
      allowed.has('approve')
        ? h`<form method="post" action="${base}/approve">
            ${csrf}
            <label for="approve-comment"
              >Approve as
              ${viewer.name}${d.approvalsRequired > 1 ? ` (${d.approvalsRequired} people needed)` : ''}</label
            >
            <input id="approve-comment" name="comment" type="text" placeholder="comment (optional)" />
            <p><button type="submit">Approve</button></p>
          </form>`
        : ''
    }
    ${
      allowed.has('halt')
        ? h`<form method="post" action="${base}/override">
            ${csrf}<input type="hidden" name="action" value="halt" />
            <label for="halt-reason">Force halt: reason (required)</label>
            <input id="halt-reason" name="reason" type="text" required minlength="3" />
            <p><button class="danger" type="submit">Force halt</button></p>
          </form>`
        : ''
    }
    ${
      allowed.has('proceed')
        ? h`<form method="post" action="${base}/override">
            ${csrf}<input type="hidden" name="action" value="proceed" />
            <label for="proceed-reason">Force proceed (breaks the glass): reason (required)</label>
            <input id="proceed-reason" name="reason" type="text" required minlength="3" />
            <p><button class="danger" type="submit">Force proceed</button></p>
          </form>`
        : ''
    }
    ${
      allowed.has('acknowledge')
        ? h`<form method="post" action="${base}/acknowledge">
            ${csrf}
            <label for="ack-comment">Acknowledge the page (resolves it at every provider)</label>
            <input id="ack-comment" name="comment" type="text" placeholder="what you are doing about it" />
            <p><button type="submit">Acknowledge</button></p>
          </form>`
        : ''
    }
  </div>`;
}

export interface TimelineItem {
  at: number;
  text: string;
}

export function timeline(d: DeployView, audit: AuditRow[]): TimelineItem[] {
  const items: TimelineItem[] = d.stages.map((s) => ({
    at: Date.parse(s.at) / 1000,
    text: `traffic at ${Math.round(s.weight * 100)}%`,
  }));
  for (const a of audit) {
    let detail: Record<string, unknown> = {};
    try {
      detail = JSON.parse(a.detail) as Record<string, unknown>;
    } catch {
      /* shown without detail */
    }
    const why =
      typeof detail.reason === 'string'
        ? `: ${detail.reason}`
        : typeof detail.comment === 'string' && detail.comment
          ? `: ${detail.comment}`
          : '';
    const text =
      a.action === 'register'
        ? `registered by ${a.actor}`
        : a.action === 'stage'
          ? ''
          : a.action.startsWith('effect') || a.action === 'page'
            ? `${a.action} ${typeof detail.kind === 'string' ? detail.kind : ''} ${typeof detail.status === 'string' ? detail.status : ''}`.trim()
            : `${a.action.replace(':', ' ')} by ${a.actor}${why}`;
    if (text) items.push({ at: a.at, text });
  }
  return items.sort((a, b) => a.at - b.at);
}

export function deployPage(
  viewer: Viewer,
  d: DeployView,
  series: DeploySeries | null,
  audit: AuditRow[],
  flash: string | null,
): string {
  const promote = d.approvals.filter((a) => a.phase === 'promote');
  const signals = d.verdicts.map((v, i) => {
    const s = series?.signals.find((x) => x.signal === v.signal);
    return h`<section aria-labelledby="sig-${i}">
      <h3 id="sig-${i}">${v.signal}: ${badge(v.status)}</h3>
      ${
        v.evidence
          ? h`<p class="sentence">${v.evidence.sentence}</p>
              ${numbers(v.evidence)}`
          : h`<p class="muted">No tick judged yet.</p>`
      }
      ${v.blindTicks ? h`<p class="muted">${v.blindTicks} tick(s) the source could not answer (not counted as seen).</p>` : ''}
      ${s && series ? chartSvg(s, series.startedAt, `chart-${i}`) : ''}
    </section>`;
  });
  const items = timeline(d, audit);
  return layout(
    `Deploy ${d.id}`,
    h`<h1>Deploy ${d.id} ${badge(d.status)}</h1>
      <p>
        <strong>${d.service}</strong> ${d.version}
        ${d.strategy === 'canary' ? `canary against ${d.baselineVersion ?? 'the other versions'}` : 'all at once, against history'};
        started ${time(d.startedAt)}${d.decidedAt ? h`, decided ${time(d.decidedAt)}` : ''}.
      </p>
      <p class="sentence" id="reason">${d.reason}</p>
      ${d.blind ? h`<p class="blind" role="alert"><strong>Blind:</strong> the metric source has not answered since ${time(d.blindSince)}. Navigator is not judging this deploy and will not pass it on ticks it did not see.</p>` : ''}
      <h2>Change</h2>
      ${
        d.change
          ? h`<p>
              ${d.change.url ? h`<a href="${d.change.url}" rel="noreferrer noopener">${d.change.id}</a>` : d.change.id}
              ${d.change.title}
              ${d.change.author ? h` by <strong>${d.change.author}</strong>${d.change.authorKind === 'agent' ? ' (an automated agent)' : ''}` : ''}${d.change.commit ? h` <code>${d.change.commit.slice(0, 12)}</code>` : ''}${d.change.destructive ? h` <strong>destructive</strong>` : ''}
            </p>`
          : h`<p class="muted">No change details registered.</p>`
      }
      <h2>Actions</h2>
      ${actionForms(viewer, d)}
      <h2>Approvals</h2>
      ${
        d.approvals.length
          ? h`<ul>
              ${d.approvals.map((a) => h`<li><strong>${a.approver}</strong> (${a.role}) ${a.phase === 'start' ? 'let the plan start' : 'approved promotion'} at ${time(a.at)}${a.comment ? `: ${a.comment}` : ''}</li>`)}
            </ul>`
          : h`<p class="muted">None yet.</p>`
      }
      <p>
        ${d.approvalsRequired > 0 ? `${promote.length} of ${d.approvalsRequired} approval(s) needed for promotion.` : 'No approval needed for promotion.'}
      </p>
      ${
        d.overrides.length
          ? h`<h2>Overrides</h2>
              <ul>
                ${d.overrides.map((o) => h`<li><strong>${o.actor}</strong> forced ${o.action} (${label(o.from)} to ${label(o.to)}) at ${time(o.at)}: ${o.reason}</li>`)}
              </ul>`
          : ''
      }
      <h2>Signals</h2>
      <p class="muted">${d.ticks} tick(s) judged${d.lastTick ? h`, the last ending ${time(d.lastTick)}` : ''}.</p>
      ${series?.error ? h`<p class="blind">Charts unavailable: the metric source did not answer (${series.error}).</p>` : ''}
      ${signals.length ? signals : h`<p class="muted">Nothing judged yet.</p>`}
      <h2>Effects</h2>
      ${
        d.effects.length
          ? h`<table>
              <thead>
                <tr>
                  <th scope="col">Effect</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                ${d.effects.map(
                  (e) =>
                    h`<tr>
                      <td>${e.kind}</td>
                      <td>${e.status}</td>
                      <td>${e.attempts}</td>
                      <td>${e.lastError ?? ''}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : h`<p class="muted">None.</p>`
      }
      <h2>Timeline</h2>
      <ol class="timeline">
        ${items.map((t) => h`<li>${time(iso(t.at))} ${t.text}</li>`)}
      </ol>`,
    viewer,
    flash,
  );
}

export function auditPage(
  viewer: Viewer,
  rows: AuditRow[],
  chain: { ok: boolean; message: string },
  deploy: string | null,
): string {
  return layout(
    'Audit log',
    h`<h1>Audit log</h1>
      <p class="${chain.ok ? 'flash' : 'flash error'}" role="status">
        ${chain.ok ? 'Chain intact' : 'TAMPERED'}: ${chain.message}
      </p>
      <form class="filters" method="get" action="/ui/audit">
        <div>
          <label for="deploy">Deploy id</label><input id="deploy" name="deploy" type="text" value="${deploy ?? ''}" />
        </div>
        <button type="submit">Filter</button>
      </form>
      <table>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Deploy</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (r) =>
              h`<tr>
                <td>${r.seq}</td>
                <td>${time(iso(r.at))}</td>
                <td>${r.actor}</td>
                <td>${r.action}</td>
                <td>
                  ${r.deploy_id ? h`<a href="/ui/deploys/${encodeURIComponent(r.deploy_id)}">${r.deploy_id}</a>` : ''}
                </td>
                <td><code>${r.detail.length > 300 ? `${r.detail.slice(0, 300)}…` : r.detail}</code></td>
              </tr>`,
          )}
        </tbody>
      </table>`,
    viewer,
  );
}
