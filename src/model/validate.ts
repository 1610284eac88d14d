// Validation of API and file input against the TypeBox schemas, with problems named by field path.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { DeployInput } from './deploy.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

// RFC 3339 with a zone, as JSON Schema's date-time, but only real instants: Date.parse must read it, and
// it must fall in 1970..9999. A leap second (23:59:60) is valid RFC 3339 that no clock here can represent
// (Date.parse gives NaN): accepting it gave a 500 or a deploy never judged, so it is refused by name.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Why a timestamp is not a real instant, or null when it is one. */
export function instantProblem(s: string): string | null {
  const m = DATE_TIME.exec(s);
  if (!m) return 'must be an RFC 3339 date-time with a zone, e.g. 2025-11-27T14:00:00Z';
  if (m[6] === '60') return 'is a leap second (:60), which is not a representable instant; use :59 or the next second';
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  const zone = /^[+-](\d{2}):(\d{2})$/.exec(m[8] ?? '');
  if (zone && (Number(zone[1]) > 23 || Number(zone[2]) > 59)) return 'has an impossible zone offset';
  const days = new Date(Date.UTC(y as number, mo as number, 0)).getUTCDate();
  if (!(mo! >= 1 && mo! <= 12 && d! >= 1 && d! <= days && h! <= 23 && mi! <= 59 && sec! <= 59))
    return 'is not a real date and time (month, day, hour, minute or second out of range)';
  const t = Date.parse(s);
  if (!Number.isFinite(t)) return 'is not a real date and time';
  const year = new Date(t).getUTCFullYear();
  if (year < 1970 || year > 9999) return 'must fall between 1970 and 9999';
  return null;
}

/** Adds the strict date-time format (instantProblem) to an Ajv instance, replacing ajv-formats' one. */
export function addInstantFormat(a: Ajv): Ajv {
  a.addFormat('date-time', { type: 'string', validate: (s: string) => instantProblem(s) === null });
  return a;
}

/** A new Ajv with ajv-formats and the strict date-time. */
export function newAjv(o: ConstructorParameters<typeof Ajv>[0]): Ajv {
  const a = new Ajv(o);
  (addFormats as unknown as (a: Ajv) => void)(a);
  return addInstantFormat(a);
}

export const ajv = newAjv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });

export interface Problem {
  path: string;
  message: string;
}

export function problemsOf(errors: ErrorObject[] | null | undefined): Problem[] {
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const e of errors ?? []) {
    const base = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    let path = base;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      path = base ? `${base}.${extra}` : extra;
      message = 'unknown field';
    } else if (e.keyword === 'format' && (e.params as { format?: string }).format === 'date-time') {
      message = `must be a real instant in RFC 3339 (no leap second :60), e.g. 2025-11-27T14:00:00Z`;
    } else if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      path = base ? `${base}.${missing}` : missing;
      message = 'is required';
    }
    const key = `${path}: ${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ path, message });
    }
  }
  return out;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

export function validator<T>(schema: object): (data: unknown) => Validated<T> {
  const fn: ValidateFunction = ajv.compile(schema);
  return (data) => {
    const copy = structuredClone(data);
    return fn(copy) ? { ok: true, value: copy as T } : { ok: false, problems: problemsOf(fn.errors) };
  };
}

const validateDeployShape = validator<DeployInput>(DeployInput);

/** A deploy's schema, and what it cannot say: a GitHub deployment Navigator creates needs something to deploy. */
export function validateDeployInput(data: unknown): Validated<DeployInput> {
  const v = validateDeployShape(data);
  if (
    v.ok &&
    v.value.github &&
    v.value.github.deployment === undefined &&
    !v.value.github.ref &&
    !v.value.change?.commit
  )
    return {
      ok: false,
      problems: [
        {
          path: 'github.ref',
          message: 'is required without github.deployment or change.commit (what the GitHub deployment is for)',
        },
      ],
    };
  return v;
}
