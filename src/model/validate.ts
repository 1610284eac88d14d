// Validation of API and file input against the TypeBox schemas, with problems named by field path.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { DeployInput } from './deploy.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

export const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);

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

export const validateDeployInput = validator<DeployInput>(DeployInput);
