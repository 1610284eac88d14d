// Exit codes, one table for every command (README "Exit codes", `navigator --help`), and the one place
// that turns errors into messages. 2 keeps both of its contracted meanings: bad input (contracts §4) and,
// for `gate` only, timed out / still waiting (contracts §6); `gate` has no other way to exit 2, because a
// malformed command line exits 64 (sysexits' EX_USAGE) everywhere, so a typo never reads as "timed out".
export const EXIT = {
  /** proceed, passed, done */
  ok: 0,
  /** halted or rolled back; or refused (a role that may not, self-approval, a closed deploy) */
  fail: 1,
  /** bad input: a file, a config key, a field */
  badInput: 2,
  /** gate: timed out or, without --wait, still waiting (contracts §6) */
  timeout: 2,
  /** cannot reach Navigator, a server error, a bad token, or an unknown deploy (same in every command) */
  error: 3,
  /** the command line itself: unknown command or option, a missing or malformed flag */
  usage: 64,
} as const;

export const EXIT_TABLE = `Exit codes (every command):
  0   ok: proceed, passed, done
  1   halted or rolled back; or refused (role, self-approval, closed deploy, tampered audit log)
  2   bad input (a config, file or field); gate: timed out or still waiting
  3   error: cannot reach Navigator, server error, bad token, unknown deploy
  64  usage: unknown command or option, missing or malformed flag`;

/** Bad input from the user: a file, a line or a field is wrong. Exits 2 with the message. */
export class InputError extends Error {
  override name = 'InputError';
}

/** A malformed command line (a flag's value): exits 64. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A command's outcome that is not success, already reported: exit with this code. */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function isInputError(e: unknown): boolean {
  return (
    e instanceof InputError ||
    (e instanceof Error && ['ConfigError', 'OpenMetricsError', 'DeployFileError'].includes(e.name))
  );
}

/** The exit code for an HTTP answer that is not a success. */
export function exitForStatus(status: number): number {
  if (status === 400) return EXIT.badInput;
  if (status === 403 || status === 409 || status === 423) return EXIT.fail;
  return EXIT.error; // 401, 404 (unknown deploy), 5xx, anything else
}
