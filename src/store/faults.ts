// Store faults: what a full disk, a read-only or corrupt file, or a locked database looks like from
// SQLite, and the two errors the rest of Navigator sees. At start a store that cannot be opened is the
// operator's input (exit 2, naming the file); while running, a store that cannot write refuses the request
// (HTTP 503) and the service keeps running, so it recovers by itself once the store can write again.

/** The store file cannot be opened or is not a sound database: bad input at start (exit 2). */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** The store cannot write now (disk full, read-only, corrupt, locked): a 503, never a half-written request. */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable';
  constructor(
    readonly path: string,
    /** the SQLite error code: SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR_WRITE, ... */
    readonly code: string,
    detail: string,
  ) {
    super(`the store ${path} cannot write (${code}: ${detail})`);
  }
}

// SQLite result codes that mean "the file or the disk under it is at fault", not "this statement is wrong"
// (a constraint or a syntax error is a bug or a bad request and is reported as such).
const FAULT = /^SQLITE_(FULL|IOERR|READONLY|CORRUPT|NOTADB|CANTOPEN|PERM|BUSY|LOCKED|PROTOCOL)/;

/** The SQLite fault code of an error, or null when the error is not a store fault. */
export function faultCode(e: unknown): string | null {
  if (e instanceof StoreUnavailable) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && FAULT.test(code) ? code : null;
}

export function isStoreFault(e: unknown): boolean {
  return faultCode(e) !== null;
}

/**
 * A replica's heartbeat lapsed (or another replica declared it dead and took its watches) before its
 * write: nothing of the write was recorded. Not a store fault: the database is fine, this replica is late.
 */
export class LeasesLapsed extends Error {
  override name = 'LeasesLapsed';
  constructor(readonly holder: string) {
    super(`replica ${holder}: its heartbeat lapsed (its watches may be another replica's now); nothing was written`);
  }
}
