// TLS to a Prometheus-compatible API with a private CA or a client certificate (mTLS). Node's global fetch
// takes no CA option; undici (the library Node's fetch is built on) does, through an Agent's `connect`
// options, and its own fetch is used with it so the Agent and the fetch always come from one version.
// Without `tls` the source keeps the global fetch (and NODE_EXTRA_CA_CERTS keeps working either way).
import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';

export interface TlsFiles {
  /** absolute paths (config/load.ts resolves them against the config file's folder and checks they read) */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
}

/** A fetch whose connections trust `caFile` (in addition to nothing else: as Prometheus' ca_file does). */
export function tlsFetch(tls: TlsFiles): typeof fetch {
  const agent = new Agent({
    connect: {
      ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
      ...(tls.certFile ? { cert: readFileSync(tls.certFile) } : {}),
      ...(tls.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
      ...(tls.serverName ? { servername: tls.serverName } : {}),
    },
  });
  return ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher: agent } as Parameters<
      typeof undiciFetch
    >[1])) as unknown as typeof fetch;
}
