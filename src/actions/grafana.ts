// A deploy as a Grafana annotation region (Annotations HTTP API): from the deploy's start to its
// decision. Registration creates it (a point until decided); the decision sets its end, text and tags.
// The region is found again by its `deploy:<id>` tag, so no annotation id has to be kept, and every step
// is idempotent under the outbox's retries and restarts: create only if missing, then update in place.

export interface GrafanaRegion {
  type: 'grafana-region';
  /** create: only if none exists yet (registration); upsert: create or update (decision) */
  mode: 'create' | 'upsert';
  base: string;
  token: string;
  dashboardUID: string;
  deployTag: string;
  time: number;
  timeEnd: number;
  tags: string[];
  text: string;
}

type Fetch = typeof fetch;

function failure(status: number, text: string, retryAfter: string | null): Error {
  return Object.assign(new Error(`HTTP ${status}: ${text.slice(0, 200)}`), {
    retryable: status === 429 || status >= 500,
    retryAfter: Number(retryAfter) || 0,
  });
}

/** Creates or updates the deploy's region in Grafana; throws (retryable on 429/5xx) on failure. */
export async function syncRegion(fetchImpl: Fetch, r: GrafanaRegion): Promise<void> {
  const api = (path: string) => new URL(path, r.base.endsWith('/') ? r.base : `${r.base}/`).toString();
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${r.token}` };
  const call = async (url: string, method: string, body?: unknown) => {
    const res = await fetchImpl(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text().catch(() => '');
    if (!res.ok) throw failure(res.status, text, res.headers.get('retry-after'));
    return text;
  };
  const q = new URLSearchParams({ dashboardUID: r.dashboardUID, type: 'annotation', tags: r.deployTag, limit: '10' });
  const found = JSON.parse((await call(api(`api/annotations?${q}`), 'GET')) || '[]') as unknown;
  const mine = (Array.isArray(found) ? (found as { id: number; tags?: string[] }[]) : []).find((a) =>
    a.tags?.includes(r.deployTag),
  );
  const body = { time: r.time, timeEnd: r.timeEnd, tags: r.tags, text: r.text };
  if (!mine) await call(api('api/annotations'), 'POST', { dashboardUID: r.dashboardUID, ...body });
  else if (r.mode === 'upsert') await call(api(`api/annotations/${mine.id}`), 'PATCH', body);
}
