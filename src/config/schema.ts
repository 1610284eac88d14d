// The one source for the configuration: validation (ajv), TypeScript types (Static) and the docs
// (`navigator config-schema` prints it as JSON Schema). Defaults live here and nowhere else.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DURATION_PATTERN } from './duration.js';

const Duration = (def: string, description: string) =>
  Type.String({ pattern: DURATION_PATTERN, default: def, description });
const Obj = <T extends Record<string, TSchema>>(props: T, description?: string) =>
  Type.Object(props, { additionalProperties: false, default: {}, ...(description ? { description } : {}) });

export const Matchers = Type.Record(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }), Type.String(), {
  default: {},
  description: 'label -> regular expression, anchored, as in PromQL =~',
});

export const Selector = Type.Object(
  {
    metric: Type.String({ pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$', description: 'a Prometheus counter' }),
    matchers: Matchers,
  },
  { additionalProperties: false },
);

// Members of a union (signals, hooks) get no ajv defaults (ajv skips defaults under anyOf), so their
// defaulted keys are optional here and read with `?? default` where used.
const SignalCommon = {
  bad: Type.Union([Type.Literal('drop'), Type.Literal('rise')], { description: 'which direction is a regression' }),
  watch: Type.Optional(
    Type.Union([Type.Literal('deploys'), Type.Literal('always')], {
      description:
        'deploys (default): judged while a deploy of the service is watched; always: also all the time against history',
    }),
  ),
  minEffect: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 0.9,
      description: 'smallest relative change worth failing a deploy for (default evaluation.minEffect)',
    }),
  ),
};

export const CountSignal = Type.Object(
  {
    kind: Type.Literal('count', { description: 'events per tick (orders, sign-ups, payments)' }),
    metric: Selector.properties.metric,
    matchers: Matchers,
    ...SignalCommon,
  },
  { additionalProperties: false },
);

export const RatioSignal = Type.Object(
  {
    kind: Type.Literal('ratio', { description: 'numerator events / denominator events (5xx / requests)' }),
    numerator: Selector,
    denominator: Selector,
    ...SignalCommon,
  },
  { additionalProperties: false },
);

export const LatencySignal = Type.Object(
  {
    kind: Type.Literal('latency', {
      description: 'a Prometheus histogram (<metric>_bucket{le}, _count): the share of requests slower than slowerThan',
    }),
    metric: Type.String({
      pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$',
      description: 'the histogram, without _bucket/_count (in seconds; _milliseconds names are in ms)',
    }),
    matchers: Matchers,
    slowerThan: Type.String({
      pattern: DURATION_PATTERN,
      description: 'a bucket bound (e.g. 500ms): requests slower than this are the bad events',
    }),
    ...SignalCommon,
  },
  { additionalProperties: false },
);

export const Signal = Type.Union([CountSignal, RatioSignal, LatencySignal]);

export const HttpHook = Type.Object(
  {
    url: Type.String({ format: 'uri' }),
    method: Type.Optional(Type.Union([Type.Literal('POST'), Type.Literal('PUT')], { description: 'default POST' })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(Type.Unknown({ description: 'JSON body template; {{deploy.id}}-style placeholders' })),
    secret: Type.Optional(Type.String({ description: 'HMAC-SHA256 key for the X-Navigator-Signature header' })),
  },
  { additionalProperties: false },
);
export const CommandHook = Type.Object(
  {
    command: Type.Array(Type.String(), { minItems: 1, description: 'argv; the deploy is in NAVIGATOR_* env vars' }),
  },
  { additionalProperties: false },
);
export const Hook = Type.Union([HttpHook, CommandHook]);

export const Service = Type.Object(
  {
    tier: Type.Union([Type.Literal('standard'), Type.Literal('critical')], { default: 'standard' }),
    page: Type.Array(Type.String(), { default: [], description: 'paging routes for this service' }),
    cohortLabel: Type.String({ default: 'version', description: "the label telling the new version's series" }),
    watchFor: Duration('30m', 'how long a deploy is watched before it may pass'),
    rollback: Type.Union([Type.Literal('automatic'), Type.Literal('on-approval'), Type.Literal('never')], {
      default: 'on-approval',
    }),
    maxFirstWeight: Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'largest first canary stage' }),
    dependsOn: Type.Array(Type.String(), { default: [], description: 'services whose changes can break this one' }),
    hooks: Obj({ halt: Type.Optional(Hook), rollback: Type.Optional(Hook) }),
    dryRun: Type.Boolean({ default: false, description: 'record what would be done, do nothing' }),
    traffic: Type.Optional(
      Type.Object(
        { metric: Selector.properties.metric, matchers: Matchers },
        {
          additionalProperties: false,
          description:
            "each version's requests (a counter split by cohortLabel): the canary's share is measured from it every tick instead of assumed from the stage weight",
        },
      ),
    ),
    signals: Type.Record(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_-]*$' }), Signal, { default: {} }),
  },
  { additionalProperties: false },
);

const Route = Type.Object(
  {
    webhook: Type.Optional(
      Type.Object(
        { url: Type.String({ format: 'uri' }), secret: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    ),
    alertmanager: Type.Optional(
      Type.Object(
        {
          url: Type.String({ format: 'uri' }),
          refresh: Duration(
            '1m',
            'a firing alert is re-posted this often, with endsAt 4 refreshes ahead, so Alertmanager never resolves it by itself (resolve_timeout) while the page matters',
          ),
        },
        { additionalProperties: false },
      ),
    ),
    pagerduty: Type.Optional(
      Type.Object(
        {
          routingKey: Type.String({ minLength: 1 }),
          url: Type.String({ format: 'uri', default: 'https://events.pagerduty.com/v2/enqueue' }),
          changeUrl: Type.Optional(
            Type.String({
              format: 'uri',
              description: 'Change Events endpoint (default: url with enqueue replaced by change/enqueue)',
            }),
          ),
          changeEvents: Type.Boolean({ default: true, description: 'send each deploy as a PagerDuty change event' }),
        },
        { additionalProperties: false },
      ),
    ),
    opsgenie: Type.Optional(
      Type.Object(
        {
          apiKey: Type.String({ minLength: 1 }),
          url: Type.String({ format: 'uri', default: 'https://api.opsgenie.com' }),
        },
        { additionalProperties: false },
      ),
    ),
    slack: Type.Optional(Type.Object({ webhookUrl: Type.String({ format: 'uri' }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const Freeze = Type.Object(
  {
    cron: Type.String({ description: 'when a freeze starts (five-field cron, UTC)' }),
    duration: Duration('1h', 'how long each freeze lasts'),
    services: Type.Optional(Type.Array(Type.String(), { description: 'services frozen (default: all)' })),
    reason: Type.String({ default: 'change freeze' }),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server: Obj({
      listen: Type.String({ default: '127.0.0.1:8080', description: 'host:port' }),
      publicUrl: Type.Optional(Type.String({ format: 'uri', description: 'base URL used in links in pages' })),
    }),
    metrics: Obj({
      source: Type.Union([Type.Literal('scrape'), Type.Literal('prometheus')], { default: 'scrape' }),
      scrape: Obj({
        targets: Type.Array(Type.String({ format: 'uri' }), { default: [] }),
        timeout: Duration('5s', 'per scrape'),
        retention: Duration('8d', 'how much scraped history the embedded store keeps (forecasts need a week)'),
      }),
      prometheus: Obj({
        url: Type.String({ format: 'uri', default: 'http://127.0.0.1:9090' }),
        timeout: Duration('10s', 'per query'),
        retries: Type.Integer({
          minimum: 0,
          maximum: 10,
          default: 2,
          description: 'retries of a query answered 429, 5xx, partially or not at all (capped backoff, Retry-After)',
        }),
        // Prometheus runs at most --query.max-concurrency (default 20) queries at once and queues the rest; 10
        // leaves half for dashboards, rules and other clients of a shared Prometheus.
        maxConcurrency: Type.Integer({
          minimum: 1,
          maximum: 1000,
          default: 10,
          description: 'HTTP queries in flight to Prometheus at most (its default --query.max-concurrency is 20)',
        }),
        headers: Type.Record(Type.String(), Type.String(), {
          default: {},
          description: 'sent with every query (X-Scope-OrgID for Mimir, ...)',
        }),
        bearerToken: Type.Optional(Type.String({ minLength: 1, description: 'Authorization: Bearer' })),
        basicAuth: Type.Optional(
          Type.Object(
            { username: Type.String({ minLength: 1 }), password: Type.String() },
            { additionalProperties: false, description: 'Authorization: Basic (instead of bearerToken)' },
          ),
        ),
        // Prometheus' own tls_config, camelCased. No insecureSkipVerify: a guard that trusts any certificate
        // can be fed any numbers; give it the CA instead.
        tls: Type.Optional(
          Type.Object(
            {
              caFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA(s) to trust' })),
              certFile: Type.Optional(Type.String({ minLength: 1, description: 'client certificate, PEM (mTLS)' })),
              keyFile: Type.Optional(Type.String({ minLength: 1, description: "the client certificate's key, PEM" })),
              serverName: Type.Optional(
                Type.String({ minLength: 1, description: 'expected name in the server certificate' }),
              ),
            },
            {
              additionalProperties: false,
              description: 'TLS to the Prometheus API; files relative to the config file',
            },
          ),
        ),
      }),
    }),
    store: Obj({
      path: Type.String({ default: 'data/navigator.db', description: 'embedded SQLite file (one process)' }),
      url: Type.Optional(
        Type.String({
          pattern: '^postgres(ql)?://',
          description: 'postgres://user:pass@host:5432/db instead of path: shared state for several replicas',
        }),
      ),
      pool: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'PostgreSQL connections per replica' }),
      lease: Type.Optional(
        Type.String({
          pattern: DURATION_PATTERN,
          description:
            "how long a replica's hold on its watches lasts unless its heartbeat renews it (every third of the lease); default a tick and a half, so a dead replica's watches move within three ticks",
        }),
      ),
    }),
    auth: Obj({
      tokens: Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1 }),
            role: Type.Union([Type.Literal('pipeline'), Type.Literal('approver'), Type.Literal('admin')]),
            token: Type.Optional(Type.String({ minLength: 1, description: 'the token itself' })),
            sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'or its SHA-256, hex' })),
            identities: Type.Optional(
              Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
                maxItems: 20,
                description:
                  "the holder's other names (login, e-mail): a change authored under any of them cannot be approved with this token",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        { default: [] },
      ),
      pipelineWrites: Obj({
        perSecond: Type.Number({
          exclusiveMinimum: 0,
          default: 20,
          description: 'sustained writes per pipeline token',
        }),
        burst: Type.Integer({ minimum: 1, default: 300, description: 'writes a pipeline token may make at once' }),
      }),
    }),
    audit: Obj({
      key: Type.Optional(
        Type.String({
          minLength: 16,
          description:
            'HMAC key for signed audit checkpoints, e.g. "${NAVIGATOR_AUDIT_KEY}"; kept outside the database',
        }),
      ),
      keyFile: Type.Optional(
        Type.String({
          description: 'file holding the checkpoint key (default: <store.path>.audit-key, created 0600 when missing)',
        }),
      ),
      headFile: Type.Optional(
        Type.String({ description: 'append-only file that receives every signed checkpoint of the chain head' }),
      ),
      checkpointEvery: Type.Integer({
        minimum: 1,
        maximum: 100_000,
        default: 100,
        description: 'sign a checkpoint every this many audit entries',
      }),
    }),
    evaluation: Obj({
      interval: Duration('15s', 'one tick: how often every watch is judged; the step of a backtest'),
      falseAlarmRate: Type.Number({
        exclusiveMinimum: 0,
        maximum: 0.5,
        default: 0.001,
        description: 'probability that a good deploy is ever failed, per deploy and signal',
      }),
      minEffect: Type.Number({
        exclusiveMinimum: 0,
        maximum: 0.9,
        default: 0.01,
        description:
          'relative change below which a canary is not failed: the tolerance for an imprecise traffic split (raise it for replica-count canaries)',
      }),
      absentAfter: Type.Integer({
        minimum: 2,
        default: 2,
        description: 'ticks without samples after which a series counts as stopped (one missed scrape is a gap)',
      }),
      alwaysMeanTimeBetweenFalsePages: Duration('90d', 'for watch: always signals, per signal'),
      holidays: Type.Array(Type.String(), {
        default: [],
        description:
          'days that are not normal days for watch: always signals: a date (YYYY-MM-DD, the UTC day) or an interval (ISO 8601 start/end, for another time zone). On them a drop or rise against the forecast opens its episode without a page (a collapse still pages), and they stay out of the history later forecasts copy',
      }),
    }),
    paging: Obj({
      routes: Type.Record(Type.String(), Route, { default: {} }),
      blindAfter: Duration('5m', 'page when a watch has been blind this long'),
      resolveAfter: Duration(
        '1m',
        'after a rollback succeeded, resolve the page this much later (traffic is back on the baseline)',
      ),
      dashboardUrl: Type.Optional(Type.String({ format: 'uri' })),
      fallback: Type.Optional(
        Type.String({ description: 'route that also gets a page its own route could not deliver after retries' }),
      ),
      undeliverable: Type.Optional(
        Type.String({ description: 'route that gets a "cannot deliver" page when an effect keeps failing' }),
      ),
      delivery: Obj({
        timeout: Duration('5s', 'per attempt: a hung receiver holds only its own route'),
        initialBackoff: Duration('1s', 'first retry delay; doubles per attempt, with jitter'),
        maxBackoff: Duration('5m', 'cap on the retry delay'),
        escalateAfter: Type.Integer({
          minimum: 1,
          default: 4,
          description: 'failed attempts after which the fallback and undeliverable routes are paged',
        }),
        maxAge: Duration('24h', 'an effect not delivered by then is given up (and reported undeliverable)'),
        timeScale: Type.Number({
          exclusiveMinimum: 0,
          maximum: 1,
          default: 1,
          description: 'multiplies every delivery delay (backoff, refresh, max age): compressed time for tests',
        }),
      }),
    }),
    grafana: Type.Optional(
      Type.Object(
        {
          url: Type.String({ format: 'uri' }),
          token: Type.String(),
          dashboardUid: Type.String({ default: 'navigator-deploy' }),
        },
        { additionalProperties: false },
      ),
    ),
    slack: Type.Optional(
      Type.Object(
        {
          signingSecret: Type.String({ minLength: 1, description: "the Slack app's signing secret (interactivity)" }),
          users: Type.Record(Type.String(), Type.String(), {
            default: {},
            description: 'Slack user id -> a name in auth.tokens, whose role applies',
          }),
        },
        { additionalProperties: false },
      ),
    ),
    github: Type.Optional(
      Type.Object(
        {
          apiUrl: Type.String({
            format: 'uri',
            default: 'https://api.github.com',
            description: 'REST API base; GitHub Enterprise Server: https://HOST/api/v3',
          }),
          token: Type.Optional(
            Type.String({
              minLength: 1,
              description: 'a token with deployments: write (statuses only), e.g. "${GITHUB_TOKEN}"',
            }),
          ),
          appId: Type.Optional(Type.Integer({ minimum: 1, description: "the GitHub App's id (instead of token)" })),
          privateKey: Type.Optional(Type.String({ minLength: 1, description: "the App's private key, PEM" })),
          privateKeyFile: Type.Optional(Type.String({ minLength: 1, description: 'or a file holding it' })),
          installationId: Type.Optional(
            Type.Integer({
              minimum: 1,
              description: 'default: from the webhook, else GET /repos/{owner}/{repo}/installation',
            }),
          ),
          webhookSecret: Type.Optional(
            Type.String({
              minLength: 1,
              description: "the App's webhook secret: POST /v1/github/webhook verifies X-Hub-Signature-256 with it",
            }),
          ),
          matchWithin: Duration(
            '10m',
            'a protection rule request no registered deploy matches (repository and commit) is rejected after this',
          ),
        },
        { additionalProperties: false },
      ),
    ),
    freezes: Type.Array(Freeze, { default: [] }),
    services: Type.Record(Type.String({ pattern: '^[a-zA-Z0-9_.-]+$' }), Service, { minProperties: 1 }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type ServiceConfig = Static<typeof Service>;
export type SignalConfig = Static<typeof Signal>;
export type LatencySignalConfig = Static<typeof LatencySignal>;
export type SelectorConfig = Static<typeof Selector>;
export type HookConfig = Static<typeof Hook>;
export type RouteConfig = Static<typeof Route>;
