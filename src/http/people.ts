// The routes for people, registered in one call from the composition root: the on-call page (/ui), its
// per-tick series, and Slack interactivity.
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import { uiRoutes, type UiDeps } from '../ui/routes.js';
import { slackRoutes } from './slack.js';

export function peopleRoutes(deps: UiDeps & { config: Config; fetch?: typeof fetch }) {
  return (app: FastifyInstance) => {
    slackRoutes(deps)(app);
    uiRoutes(deps)(app);
  };
}
