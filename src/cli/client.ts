// A small HTTP client for the CLI commands that talk to a running Navigator.
import { ExitError, UsageError, exitForStatus } from './errors.js';

export interface ClientOptions {
  server?: string;
  token?: string;
}

export interface Answer {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
}

export function clientFrom(o: ClientOptions) {
  const base = o.server ?? process.env.NAVIGATOR_URL ?? 'http://127.0.0.1:8080';
  const token = o.token ?? process.env.NAVIGATOR_TOKEN;
  try {
    new URL(base);
  } catch {
    throw new UsageError(`--server: "${base}" is not a URL`);
  }
  return async function call(method: string, path: string, body?: unknown): Promise<Answer> {
    const res = await fetch(new URL(path, base), {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = { raw: text };
    }
    return { status: res.status, json, headers: res.headers };
  };
}

export function errorText(json: Record<string, unknown>): string {
  const e = json.error as { message?: string } | undefined;
  return e?.message ?? JSON.stringify(json);
}

/**
 * One call whose failure ends the command: cannot reach (3), or a non-2xx answer mapped through the one
 * exit table (an unknown deploy is 3 in every command). With --json the error is printed as JSON on stdout.
 */
export async function callOrExit(
  o: ClientOptions & { json?: boolean },
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const call = clientFrom(o);
  let r: Answer;
  try {
    r = await call(method, path, body);
  } catch (e) {
    const message = `cannot reach Navigator: ${(e as Error).message}`;
    if (o.json) printJson({ error: { code: 'UNREACHABLE', message } });
    throw new ExitError(3, message);
  }
  if (r.status >= 400) {
    if (o.json) printJson(r.json);
    throw new ExitError(exitForStatus(r.status), errorText(r.json));
  }
  return r.json;
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}
