// Exit codes and the one place that turns errors into messages (contracts §4, §6).
export const EXIT = { ok: 0, fail: 1, badInput: 2, timeout: 2, error: 3 } as const;

/** Bad input from the user: a file, a line or a field is wrong. Exits 2 with the message. */
export class InputError extends Error {
  override name = 'InputError';
}

export function isInputError(e: unknown): boolean {
  return (
    e instanceof InputError ||
    (e instanceof Error && ['ConfigError', 'OpenMetricsError', 'DeployFileError', 'StoreError'].includes(e.name))
  );
}
