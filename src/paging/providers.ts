// One request builder per paging provider, from the vendors' documented formats
// (shared/reference/integrations.md). Builders are pure: the outbox sends what they return.
import { createHmac } from 'node:crypto';
import type { RouteConfig } from '../config/schema.js';
import { pageDetails, type Page } from './page.js';

export interface OutgoingRequest {
  provider: string;
  url: string;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  body: string;
}

/** Base URLs may carry a path prefix (a proxy); paths are resolved below it. */
const withSlash = (u: string) => (u.endsWith('/') ? u : `${u}/`);
const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);
const isoOf = (t: number) => new Date(t * 1000).toISOString();

export function pagerDuty(cfg: NonNullable<RouteConfig['pagerduty']>, p: Page): OutgoingRequest {
  const dedup = clip(p.key, 255);
  const body =
    p.action === 'resolve'
      ? { routing_key: cfg.routingKey, dedup_key: dedup, event_action: 'resolve' }
      : {
          routing_key: cfg.routingKey,
          event_action: 'trigger',
          dedup_key: dedup,
          payload: {
            summary: clip(p.summary, 1024),
            // PagerDuty: "the unique location of the affected system": the service, not the tool that saw it.
            source: p.service,
            severity: p.severity,
            timestamp: isoOf(p.at),
            component: p.service,
            group: p.signal ?? undefined,
            class: 'deploy-regression',
            custom_details: pageDetails(p),
          },
          links: p.links,
          client: 'Navigator',
        };
  let text = JSON.stringify(body);
  // PagerDuty refuses events over 512 KB: drop the details rather than the page.
  if (text.length > 500_000 && 'payload' in body)
    text = JSON.stringify({ ...body, payload: { ...body.payload, custom_details: { note: 'details too large' } } });
  return {
    provider: 'pagerduty',
    url: cfg.url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: text,
  };
}

/** PagerDuty Change Events (POST /v2/change/enqueue): a deploy recorded on the service's timeline, paging nobody. */
export function pagerDutyChange(
  cfg: NonNullable<RouteConfig['pagerduty']>,
  c: { summary: string; service: string; at: number; details: Record<string, string>; links: Page['links'] },
): OutgoingRequest {
  const url =
    cfg.changeUrl ??
    (/enqueue\/?$/.test(cfg.url)
      ? cfg.url.replace(/enqueue\/?$/, 'change/enqueue')
      : new URL('change/enqueue', withSlash(cfg.url)).toString());
  return {
    provider: 'pagerduty-change',
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      routing_key: cfg.routingKey,
      payload: {
        summary: clip(c.summary, 1024),
        timestamp: isoOf(c.at),
        source: c.service,
        custom_details: c.details,
      },
      links: c.links,
    }),
  };
}

export function alertmanager(cfg: NonNullable<RouteConfig['alertmanager']>, p: Page): OutgoingRequest {
  // Identity is the label set: the same labels on resolve close the same alert.
  const labels = {
    alertname: 'NavigatorRegression',
    service: p.service,
    deploy: p.deploy?.id ?? 'none',
    incident: p.key,
    severity: p.severity,
  };
  const alert = {
    labels,
    annotations: {
      summary: clip(p.summary, 1024),
      signal: p.signal ?? '',
      description: pageDetails(p).evidence ?? p.summary,
      change: pageDetails(p).change,
      already_done: pageDetails(p).already_done,
    },
    startsAt: isoOf(p.at),
    ...(p.action === 'resolve' ? { endsAt: isoOf(p.at) } : {}),
    generatorURL: p.links[0]?.href ?? 'http://navigator.invalid/',
  };
  return {
    provider: 'alertmanager',
    url: new URL('api/v2/alerts', withSlash(cfg.url)).toString(),
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([alert]),
  };
}

export function opsgenie(cfg: NonNullable<RouteConfig['opsgenie']>, p: Page): OutgoingRequest {
  const alias = clip(p.key, 512);
  if (p.action === 'resolve') {
    return {
      provider: 'opsgenie',
      url: new URL(`v2/alerts/${encodeURIComponent(alias)}/close?identifierType=alias`, withSlash(cfg.url)).toString(),
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `GenieKey ${cfg.apiKey}` },
      body: JSON.stringify({ source: 'navigator', note: clip(p.summary, 1000) }),
    };
  }
  const details = Object.fromEntries(Object.entries(pageDetails(p)).map(([k, v]) => [k, clip(v, 500)]));
  return {
    provider: 'opsgenie',
    url: new URL('v2/alerts', withSlash(cfg.url)).toString(),
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `GenieKey ${cfg.apiKey}` },
    body: JSON.stringify({
      message: clip(p.summary, 130),
      alias,
      description: clip(
        Object.entries(pageDetails(p))
          .map(([k, v]) => `${k}: ${v}`)
          .join('\n'),
        15000,
      ),
      tags: ['navigator', p.service, ...(p.signal ? [p.signal] : [])].map((t) => clip(t, 50)).slice(0, 20),
      details,
      entity: p.service,
      source: 'navigator',
      priority: p.severity === 'critical' ? 'P1' : p.severity === 'error' ? 'P2' : 'P3',
    }),
  };
}

/**
 * Slack's escaping (api.slack.com/reference/surfaces/formatting#escaping): &, < and > in user text become
 * &amp;, &lt; and &gt;, so a change title with `<!channel>` pings nobody and cannot forge a link.
 */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A URL inside Slack's <url|text>: characters that would end or split the link are percent-encoded. */
const slackUrl = (u: string) => u.replace(/[<>|\s]/g, (c) => encodeURIComponent(c));

export function slack(cfg: NonNullable<RouteConfig['slack']>, p: Page): OutgoingRequest {
  const d = pageDetails(p);
  const raw = p.action === 'resolve' ? `Resolved: ${p.summary}` : p.summary;
  const head = slackEscape(raw);
  return {
    provider: 'slack',
    url: cfg.webhookUrl,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      text: clip(head, 3000),
      blocks: [
        // plain_text is never parsed for mentions or links: it shows the text as written.
        { type: 'header', text: { type: 'plain_text', text: clip(raw, 150) } },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: clip(
              Object.entries(d)
                .map(([k, v]) => `*${slackEscape(k)}*: ${slackEscape(v)}`)
                .join('\n'),
              3000,
            ),
          },
        },
        ...(p.links.length
          ? [
              {
                type: 'section',
                text: {
                  type: 'mrkdwn',
                  text: clip(p.links.map((l) => `<${slackUrl(l.href)}|${slackEscape(l.text)}>`).join(' · '), 3000),
                },
              },
            ]
          : []),
        ...slackButtons(p),
      ],
    }),
  };
}

/** Approve / Acknowledge buttons (Block Kit) for a deploy's page; clicks post to /v1/slack/interactivity. */
function slackButtons(p: Page): object[] {
  if (p.action !== 'trigger' || !p.deploy || p.deploy.id === 'none') return [];
  const wanted = p.actions ?? ['acknowledge'];
  const button = (id: string, text: string, style?: string) => ({
    type: 'button',
    action_id: id,
    text: { type: 'plain_text', text },
    value: (p.deploy as { id: string }).id,
    ...(style ? { style } : {}),
  });
  const elements = [
    ...(wanted.includes('approve') ? [button('navigator_approve', 'Approve', 'primary')] : []),
    ...(wanted.includes('acknowledge') ? [button('navigator_acknowledge', 'Acknowledge')] : []),
  ];
  return elements.length ? [{ type: 'actions', block_id: 'navigator_actions', elements }] : [];
}

/**
 * Generic JSON webhook. With a secret it is signed at send time (the outbox calls signHeaders): the
 * timestamped signature over `timestamp.body`, and the original body-only one for existing receivers.
 */
export function webhook(cfg: NonNullable<RouteConfig['webhook']>, p: Page): OutgoingRequest {
  const body = JSON.stringify({ ...p, details: pageDetails(p) });
  return {
    provider: 'webhook',
    url: cfg.url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  };
}

/** X-Navigator-Signature: sha256=<hex HMAC-SHA256 of the body> (kept for receivers that check it). */
export function sign(body: string, secret: string | undefined): Record<string, string> {
  return secret ? { 'x-navigator-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` } : {};
}

/**
 * Signature with a timestamp, so a captured request cannot be replayed later: X-Navigator-Timestamp is the
 * send time (Unix seconds) and X-Navigator-Signature-V2 is sha256=<hex HMAC-SHA256 of `${timestamp}.${body}`>.
 * A receiver recomputes it and refuses timestamps more than a few minutes old.
 */
export function signHeaders(body: string, secret: string | undefined, nowS: number): Record<string, string> {
  if (!secret) return {};
  const ts = String(Math.floor(nowS));
  return {
    ...sign(body, secret),
    'x-navigator-timestamp': ts,
    'x-navigator-signature-v2': `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`,
  };
}

/** Every request a route sends for a page. */
export function routeRequests(route: RouteConfig, p: Page): OutgoingRequest[] {
  const out: OutgoingRequest[] = [];
  if (route.pagerduty) out.push(pagerDuty(route.pagerduty, p));
  if (route.alertmanager) out.push(alertmanager(route.alertmanager, p));
  if (route.opsgenie) out.push(opsgenie(route.opsgenie, p));
  if (route.slack) out.push(slack(route.slack, p));
  if (route.webhook) out.push(webhook(route.webhook, p));
  return out;
}
