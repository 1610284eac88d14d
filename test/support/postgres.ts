// A real, throwaway PostgreSQL (the Debian package `postgresql`) for the store's contract tests and the
// replica tests: initdb in a temporary folder, a free port, its unix socket in that folder, always
// stopped. PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user and
// its commands run through `runuser`. A missing binary fails with what to install (`npm test` installs it
// when it runs as root); nothing skips.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitUntil } from './processes.js';

const INSTALL = "run 'apt-get install -y postgresql' (npm test does it when run as root)";

/** The folder holding initdb, pg_ctl and postgres: on PATH, else Debian's versioned folder. */
export function postgresBin(): string {
  try {
    const p = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim();
    if (p) return join(p, '..');
  } catch {
    /* Debian keeps them out of PATH */
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  throw new Error(`PostgreSQL (initdb, postgres) is not installed: ${INSTALL}`);
}

export interface Postgres {
  /** postgres://... for `store.url` */
  url: string;
  port: number;
  dir: string;
  /** a fresh, empty database on this server (each test its own) */
  database(name?: string): Promise<string>;
  /** the process started (as root: runuser, whose child is the postmaster) */
  proc: ChildProcess;
  stop(): Promise<void>;
}

let counter = 0;

/** settings: extra `-c name=value` server settings (a bench measuring WAL sets full_page_writes). */
export async function startPostgres(o: { settings?: Record<string, string> } = {}): Promise<Postgres> {
  const bin = postgresBin();
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'navigator-pg-'));
  const data = join(dir, 'data');
  // As root: the cluster belongs to `postgres`, which must be able to reach its folder.
  const as = (cmd: string, args: string[]): [string, string[]] =>
    root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (root) {
    chmodSync(dir, 0o777);
    execFileSync('chown', ['postgres:postgres', dir]);
  }
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, 'navigator\n');
  if (root) execFileSync('chown', ['postgres:postgres', pwfile]);
  const [initCmd, initArgs] = as(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'navigator',
    '--pwfile',
    pwfile,
    '-A',
    'scram-sha-256',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  try {
    execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${err.stderr?.toString() || err.message}`);
  }
  const port = await freePort();
  const [cmd, args] = as(join(bin, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-h',
    '127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
    ...Object.entries(o.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const url = `postgres://navigator:navigator@127.0.0.1:${port}/postgres`;
  try {
    await waitUntil(
      `PostgreSQL on port ${port}`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`postgres exited: ${log.slice(-2000)}`);
        const c = new pg.Client({ connectionString: url });
        try {
          await c.connect();
          await c.query('SELECT 1');
          return true;
        } finally {
          await c.end().catch(() => {});
        }
      },
      60_000,
    );
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  // As root the child is runuser, which does not pass signals on: the postmaster is the PID in
  // postmaster.pid, signalled directly (else every test left a server running).
  const postmaster = (): number | null => {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signal = (sig: NodeJS.Signals) => {
    const pid = postmaster();
    if (pid !== null && alive(pid)) process.kill(pid, sig);
    else if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
  };
  const stop = async () => {
    const pid = postmaster();
    signal('SIGCONT');
    signal('SIGINT'); // fast shutdown
    const deadline = Date.now() + 5000;
    while ((pid !== null && alive(pid)) || (proc.exitCode === null && proc.signalCode === null)) {
      if (Date.now() > deadline) {
        signal('SIGKILL');
        proc.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    url,
    port,
    dir,
    proc,
    stop,
    async database(name = `t${process.pid}_${++counter}`) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name}`);
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `postgres://navigator:navigator@127.0.0.1:${port}/${name}`;
    },
  };
}
