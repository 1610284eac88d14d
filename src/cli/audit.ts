// navigator audit verify: checks the audit log, locally (--store) or through the API (--server). Locally
// it checks the hash chain, the signed checkpoints (with the key from the config: audit.key or the key
// file next to the store), and the head recorded outside the store (--head-file or audit.headFile).
import type { Command } from 'commander';
import { loadAuditKey } from '../audit/checkpoint.js';
import { readHeadFile } from '../audit/head.js';
import { AuditVerifier } from '../audit/verifier.js';
import { defaultConfigPath, loadConfig } from '../config/load.js';
import { Store } from '../store/sqlite.js';
import { clientFrom, errorText } from './client.js';
import { EXIT, InputError } from './errors.js';

interface Opts {
  store?: string;
  config?: string;
  server?: string;
  token?: string;
  headFile?: string;
  keyFile?: string;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit log of every decision, approval, override and action');
  audit
    .command('verify')
    .description('check that no audit entry was rewritten or removed (exit 1 if one was)')
    .option('--store <file>', 'the SQLite file (default: store.path from the config); never created')
    .option('--config <file>')
    .option('--key-file <file>', 'the checkpoint key (default: audit.key / audit.keyFile from the config)')
    .option('--head-file <file>', 'the append-only head file to compare with (default: audit.headFile)')
    .option('--server <url>', 'ask a running Navigator instead')
    .option('--token <token>')
    .action(async (o: Opts) => {
      let check: { ok: boolean; message: string };
      if (o.server) {
        const r = await clientFrom(o)('GET', '/v1/audit?limit=1');
        if (r.status >= 400) {
          process.stderr.write(`navigator: ${errorText(r.json)}\n`);
          process.exitCode = EXIT.error;
          return;
        }
        check = r.json.chain as { ok: boolean; message: string };
      } else {
        // The config is optional with --store (verifying a copied file); it supplies the key and head file.
        const configPath = o.config ?? defaultConfigPath(process.env);
        const config = o.store && !o.config ? tryConfig(configPath) : loadConfig(configPath);
        const path = o.store ?? config?.store.path ?? 'data/navigator.db';
        const store = new Store(path, { mustExist: true, readonly: true });
        try {
          const key = loadAuditKey(
            {
              key: o.keyFile ? undefined : config?.audit?.key,
              keyFile: o.keyFile ?? config?.audit?.keyFile,
              storePath: path,
            },
            false,
          );
          if (o.keyFile && !key) throw new InputError(`--key-file ${o.keyFile}: no such file`);
          const headFile = o.headFile ?? config?.audit?.headFile;
          let head;
          try {
            head = headFile ? readHeadFile(headFile, key?.key ?? null) : null;
          } catch (e) {
            process.stdout.write(`TAMPERED: ${(e as Error).message}\n`);
            process.exitCode = EXIT.fail;
            return;
          }
          if (o.headFile && !head)
            throw new InputError(`--head-file ${o.headFile}: no such file or no checkpoint in it`);
          const verifier = new AuditVerifier(store, {
            key: key?.key ?? null,
            every: config?.audit?.checkpointEvery ?? 100,
            heads: () => (head ? [head] : []),
          });
          check = await verifier.check();
        } finally {
          await store.close();
        }
      }
      process.stdout.write(`${check.ok ? 'ok' : 'TAMPERED'}: ${check.message}\n`);
      process.exitCode = check.ok ? EXIT.ok : EXIT.fail;
    });
}

function tryConfig(path: string) {
  try {
    return loadConfig(path);
  } catch {
    return null;
  }
}
