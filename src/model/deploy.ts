// A deploy as pipelines register it (contracts §2): one schema for the HTTP API, the CLI and the backtest.
import { Type, type Static } from '@sinclair/typebox';

export const Change = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200 }),
    title: Type.String({ default: '', maxLength: 500 }),
    author: Type.String({ default: '', maxLength: 200 }),
    authorKind: Type.Union([Type.Literal('human'), Type.Literal('agent')], { default: 'human' }),
    commit: Type.String({ default: '', maxLength: 100 }),
    url: Type.String({ default: '', maxLength: 2000 }),
    destructive: Type.Boolean({ default: false, description: 'replaces or deletes infrastructure' }),
  },
  { additionalProperties: false },
);

export const Stage = Type.Object(
  {
    at: Type.String({ format: 'date-time' }),
    weight: Type.Number({ minimum: 0, maximum: 1 }),
  },
  { additionalProperties: false },
);

/**
 * Where the deploy shows on GitHub (optional): Navigator posts the deployment's statuses as the deploy moves
 * (src/actions/github.ts), and matches GitHub's deployment protection rule requests to it (repository and
 * commit). Without `deployment`, Navigator creates the GitHub deployment itself (for `ref`, else the commit).
 */
export const GitHubTarget = Type.Object(
  {
    repository: Type.String({
      pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$',
      maxLength: 200,
      description: 'owner/name on GitHub',
    }),
    deployment: Type.Optional(
      Type.Integer({ minimum: 1, description: "the GitHub deployment's id; absent: Navigator creates one" }),
    ),
    ref: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: 'branch, tag or SHA a deployment Navigator creates is for (default: change.commit)',
      }),
    ),
    environment: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, description: 'GitHub environment (default: production)' }),
    ),
    environmentUrl: Type.Optional(
      Type.String({ format: 'uri', maxLength: 2000, description: 'where the deployed version runs' }),
    ),
  },
  { additionalProperties: false },
);

export const DeployInput = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._:/-]+$' }),
    service: Type.String({ minLength: 1 }),
    version: Type.String({ minLength: 1 }),
    baselineVersion: Type.Optional(Type.String({ minLength: 1 })),
    strategy: Type.Union([Type.Literal('canary'), Type.Literal('all-at-once')], { default: 'canary' }),
    startedAt: Type.Optional(Type.String({ format: 'date-time' })),
    stages: Type.Array(Stage, { default: [] }),
    change: Type.Optional(Change),
    github: Type.Optional(GitHubTarget),
  },
  { additionalProperties: false },
);

export type DeployInput = Static<typeof DeployInput>;
export type Change = Static<typeof Change>;
export type Stage = Static<typeof Stage>;
export type GitHubTarget = Static<typeof GitHubTarget>;

/** A registered deploy, times as epoch seconds. */
export interface Deploy {
  id: string;
  service: string;
  version: string;
  baselineVersion: string | null;
  strategy: 'canary' | 'all-at-once';
  startedAt: number;
  stages: { at: number; weight: number }[];
  change: Change | null;
  /** optional: the deploy's GitHub repository and deployment (contracts §2 addition) */
  github?: GitHubTarget;
}

export function toDeploy(input: DeployInput, now: number): Deploy {
  const startedAt = input.startedAt ? Date.parse(input.startedAt) / 1000 : now;
  const stages = input.stages
    .map((s) => ({ at: Date.parse(s.at) / 1000, weight: s.weight }))
    .sort((a, b) => a.at - b.at);
  return {
    id: input.id,
    service: input.service,
    version: input.version,
    baselineVersion: input.baselineVersion ?? null,
    strategy: input.strategy,
    startedAt,
    stages,
    change: input.change ?? null,
    ...(input.github ? { github: input.github } : {}),
  };
}
