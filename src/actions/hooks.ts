// Halt and rollback hooks: an HTTP call with a templated JSON body and HMAC signature headers, or a
// configured command with the deploy in its environment. Navigator itself never deletes or recreates
// anything: it calls what its operators configured (rollback = redeploy the baseline version).
import { execFile } from 'node:child_process';
import type { HookConfig } from '../config/schema.js';
import type { Deploy } from '../model/deploy.js';
import type { OutgoingRequest } from '../paging/providers.js';

export interface HookContext {
  action: 'halt' | 'rollback';
  deploy: Deploy;
  reason: string;
}

function vars(c: HookContext): Record<string, string> {
  return {
    action: c.action,
    reason: c.reason,
    'deploy.id': c.deploy.id,
    'deploy.service': c.deploy.service,
    'deploy.version': c.deploy.version,
    'deploy.baselineVersion': c.deploy.baselineVersion ?? '',
    'deploy.strategy': c.deploy.strategy,
    'change.id': c.deploy.change?.id ?? '',
    'change.author': c.deploy.change?.author ?? '',
    'change.commit': c.deploy.change?.commit ?? '',
  };
}

/** Replaces {{name}} in every string of a JSON template. */
export function render(template: unknown, v: Record<string, string>): unknown {
  if (typeof template === 'string') return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (m, k: string) => v[k] ?? m);
  if (Array.isArray(template)) return template.map((x) => render(x, v));
  if (template && typeof template === 'object')
    return Object.fromEntries(Object.entries(template).map(([k, x]) => [k, render(x, v)]));
  return template;
}

export function hookRequest(hook: Extract<HookConfig, { url: string }>, c: HookContext): OutgoingRequest {
  const v = vars(c);
  const body = JSON.stringify(
    render(
      hook.body ?? {
        action: '{{action}}',
        deploy: '{{deploy.id}}',
        service: '{{deploy.service}}',
        version: '{{deploy.version}}',
        rollbackTo: '{{deploy.baselineVersion}}',
        reason: '{{reason}}',
      },
      v,
    ),
  );
  return {
    provider: `${c.action}-hook`,
    url: hook.url,
    method: hook.method ?? 'POST',
    headers: {
      'content-type': 'application/json',
      ...(hook.headers ?? {}),
      // signed (with a timestamp) and keyed at send time by the outbox: see Effects.deliver
    },
    body,
  };
}

/** Runs a command hook; resolves with its output, rejects with its exit status and stderr. */
export function runCommandHook(
  hook: Extract<HookConfig, { command: string[] }>,
  c: HookContext,
  timeoutS = 60,
): Promise<string> {
  const env = Object.fromEntries(
    Object.entries(vars(c)).map(([k, x]) => [
      `NAVIGATOR_${k
        .replace(/\./g, '_')
        .replace(/([a-z])([A-Z])/g, '$1_$2')
        .toUpperCase()}`,
      x,
    ]),
  );
  const [cmd, ...args] = hook.command as [string, ...string[]];
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: timeoutS * 1000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message} ${stderr}`.trim()));
      else resolve(stdout);
    });
  });
}
