// GET /v1/watches/always: what each `watch: always` signal can judge now. A signal warming up says so
// (and why: how much history it has of what it needs), with its calibration replay on its own history.
import type { FastifyInstance } from 'fastify';
import type { AlwaysLiveStatus } from '../watch/always-live.js';
import type { Auth } from './auth.js';

export function alwaysRoutes(o: { auth: Auth; statuses: () => AlwaysLiveStatus[] }) {
  return (app: FastifyInstance): void => {
    app.get(
      '/v1/watches/always',
      {
        schema: {
          summary: 'Always-watched signals: warming up or armed, margin, calibration on their own history',
          security: [{ bearer: [] }],
        },
      },
      async (req) => {
        o.auth.actor(req.headers.authorization);
        // JSON has no NaN: an unknown margin is null.
        return {
          watches: o.statuses().map((s) => ({ ...s, margin: Number.isFinite(s.margin) ? s.margin : null })),
        };
      },
    );
  };
}
