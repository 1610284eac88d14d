// navigator audit verify: checks the hash chain of the audit log, locally (--store) or through the API.
import type { Command } from 'commander';
import { verifyAuditChain } from '../audit/verify.js';
import { defaultConfigPath, loadConfig } from '../config/load.js';
import { Store } from '../store/sqlite.js';
import { clientFrom, errorText } from './client.js';
import { EXIT } from './errors.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit log of every decision, approval, override and action');
  audit
    .command('verify')
    .description('check that no audit entry was rewritten or removed (exit 1 if one was)')
    .option('--store <file>', 'the SQLite file (default: store.path from the config)')
    .option('--config <file>')
    .option('--server <url>', 'ask a running Navigator instead')
    .option('--token <token>')
    .action(async (o: { store?: string; config?: string; server?: string; token?: string }) => {
      let check;
      if (o.server) {
        const r = await clientFrom(o)('GET', '/v1/audit?after=0');
        if (r.status >= 400) {
          process.stderr.write(`navigator: ${errorText(r.json)}\n`);
          process.exitCode = EXIT.error;
          return;
        }
        check = r.json.chain as { ok: boolean; message: string };
      } else {
        const path = o.store ?? loadConfig(o.config ?? defaultConfigPath(process.env)).store.path;
        const store = new Store(path, { mustExist: true, readonly: true });
        check = verifyAuditChain(store.audit(0, 10_000_000));
        store.close();
      }
      process.stdout.write(`${check.ok ? 'ok' : 'TAMPERED'}: ${check.message}\n`);
      process.exitCode = check.ok ? EXIT.ok : EXIT.fail;
    });
}
