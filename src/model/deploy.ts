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
  },
  { additionalProperties: false },
);

export type DeployInput = Static<typeof DeployInput>;
export type Change = Static<typeof Change>;
export type Stage = Static<typeof Stage>;

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
  };
}
