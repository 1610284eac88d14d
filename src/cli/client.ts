// A small HTTP client for the CLI commands that talk to a running Navigator.
import { InputError } from './errors.js';

export interface ClientOptions {
  server?: string;
  token?: string;
}

export function clientFrom(o: ClientOptions) {
  const base = o.server ?? process.env.NAVIGATOR_URL ?? 'http://127.0.0.1:8080';
  const token = o.token ?? process.env.NAVIGATOR_TOKEN;
  try {
    new URL(base);
  } catch {
    throw new InputError(`--server: "${base}" is not a URL`);
  }
  return async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
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
