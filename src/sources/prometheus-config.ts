// The one place the config's `metrics.prometheus` becomes a PrometheusSource, so the live watch (app.ts),
// the backtest and the start-up bucket-bound check talk to Prometheus with the same URL, credentials,
// tenant headers, TLS and concurrency bound; a new option is added here once.
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { PrometheusSource, type PrometheusOptions } from './prometheus.js';
import { tlsFetch } from './tls.js';

export function prometheusFromConfig(
  p: Config['metrics']['prometheus'],
  overrides: Partial<Pick<PrometheusOptions, 'url' | 'timeout' | 'retries' | 'onQuery'>> = {},
): PrometheusSource {
  return new PrometheusSource({
    url: p.url,
    timeout: parseDuration(p.timeout),
    retries: p.retries,
    headers: p.headers,
    bearerToken: p.bearerToken,
    basicAuth: p.basicAuth,
    maxConcurrency: p.maxConcurrency,
    ...(p.tls ? { fetch: tlsFetch(p.tls) } : {}),
    ...overrides,
  });
}
