// Who a person is, for the two-person rule: a change's author and an approver's token are the same person
// when any of their names match after normalisation. Raw string comparison let `Dev-A` or ` dev-a` approve
// a change of `dev-a`: names are compared after Unicode NFKC (full-width and compatibility forms fold to
// plain letters), with invisible code points removed (zero-width spaces, joiners, soft hyphens), surrounding
// whitespace trimmed, and case folded (upper then lower, so `ß` and `SS` meet at `ss`).

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/** The comparable form of one identity (a login, an e-mail, a display name). */
export function normalizeIdentity(name: string): string {
  return name.normalize('NFKC').replace(IGNORABLE, '').trim().toUpperCase().toLowerCase().normalize('NFKC');
}

/** The normalised, distinct, non-empty identities of one holder. */
export function identitySet(names: Iterable<string | null | undefined>): string[] {
  const out = new Set<string>();
  for (const n of names) {
    if (typeof n !== 'string') continue;
    const v = normalizeIdentity(n);
    if (v) out.add(v);
  }
  return [...out];
}

/** Whether two holders share an identity. */
export function samePerson(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(identitySet(a));
  return identitySet(b).some((x) => set.has(x));
}
