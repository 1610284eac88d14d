// Argo Rollouts' analysis semantics, ported from its source (argoproj/argo-rollouts @9f8d111) so tests can
// check an AnalysisTemplate against Navigator's real answers without a cluster:
// - metricproviders/webmetric/webmetric.go: a non-2xx is an Error measurement; the body is JSON, read through
//   the jsonPath (default `{$}`), and the value is evaluated;
// - utils/evaluate/evaluate.go: EvaluateResult (success/failure conditions, neither = Inconclusive);
// - analysis/analysis.go: assessMetricStatus, assessMetricFailureInconclusiveOrError and the counters;
// - utils/analysis/factory.go: ValidateMetric;
// - utils/defaults: consecutiveErrorLimit defaults to 4, failureLimit and inconclusiveLimit to 0.
// Conditions are expr-lang; only the subset a template here uses is implemented (string, number, bool and
// null literals, `result`, ==, !=, <, <=, >, >=, !, not, &&, ||, and, or, `in [...]`, parentheses,
// `result.field`): anything else throws, so a template outside the subset fails its test instead of being
// misread.

export interface Metric {
  name: string;
  interval?: string;
  count?: number;
  failureLimit?: number;
  inconclusiveLimit?: number;
  consecutiveErrorLimit?: number;
  consecutiveSuccessLimit?: number;
  successCondition?: string;
  failureCondition?: string;
  provider: { web?: { url: string; jsonPath?: string; headers?: { key: string; value: string }[] } };
}

export type Phase = 'Successful' | 'Failed' | 'Inconclusive' | 'Error' | 'Running' | 'Pending';

/** ValidateMetric (utils/analysis/factory.go): the errors Argo refuses a template with. */
export function validateMetric(m: Metric): string | null {
  const count = m.count ?? 0;
  const failureLimit = m.failureLimit ?? 0;
  const csl = m.consecutiveSuccessLimit ?? 0;
  const il = m.inconclusiveLimit ?? 0;
  if (csl < 0) return 'consecutiveSuccessLimit must be >= 0';
  if (failureLimit < -1) return 'failureLimit must be >= 0, or -1 to be disabled';
  if (csl === 0 && failureLimit === -1) return 'failureLimit and consecutiveSuccessLimit cannot both be disabled';
  if (il < 0) return 'inconclusiveLimit must be >= 0';
  if ((m.consecutiveErrorLimit ?? 0) < 0) return 'consecutiveErrorLimit must be >= 0';
  if (count > 0) {
    if (csl >= 0 && failureLimit >= 0 && count < failureLimit + csl)
      return 'count must be >= failureLimit + consecutiveSuccessLimit';
    if (csl >= 0 && failureLimit < 0 && count < csl) return 'count must be >= consecutiveSuccessLimit';
    if (count < il) return 'count must be >= inconclusiveLimit';
  }
  if (count > 1 && !m.interval) return 'interval must be specified when count > 1';
  return null;
}

// ---- expr-lang subset --------------------------------------------------------------------------------
type Tok = { k: 'str' | 'num' | 'id' | 'op'; v: string };

function lex(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (/\s/.test(c)) i++;
    else if (c === '"' || c === "'") {
      let j = i + 1;
      let v = '';
      while (j < s.length && s[j] !== c) {
        if (s[j] === '\\') j++;
        v += s[j];
        j++;
      }
      if (j >= s.length) throw new Error(`unterminated string in ${s}`);
      out.push({ k: 'str', v });
      i = j + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(s.slice(i)) as RegExpExecArray;
      out.push({ k: 'num', v: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i)) as RegExpExecArray;
      out.push({ k: 'id', v: m[0] });
      i += m[0].length;
    } else {
      const two = s.slice(i, i + 2);
      if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
        out.push({ k: 'op', v: two });
        i += 2;
      } else if ('()[],.<>!'.includes(c)) {
        out.push({ k: 'op', v: c });
        i++;
      } else throw new Error(`unsupported character ${c} in ${s}`);
    }
  }
  return out;
}

/** EvalCondition: the condition's value with `result` bound; it must be a bool (evaluate.go). */
export function evalCondition(result: unknown, condition: string): boolean {
  const toks = lex(condition);
  let p = 0;
  const peek = () => toks[p];
  const eat = (v?: string) => {
    const t = toks[p];
    if (!t || (v !== undefined && t.v !== v)) throw new Error(`expected ${v ?? 'a token'} in ${condition}`);
    p++;
    return t;
  };
  const isOp = (...vs: string[]) => {
    const t = peek();
    return !!t && (t.k === 'op' || t.k === 'id') && vs.includes(t.v);
  };
  const or = (): unknown => {
    let l = and();
    while (isOp('||', 'or')) {
      eat();
      const r = and();
      l = truth(l) || truth(r);
    }
    return l;
  };
  const and = (): unknown => {
    let l = cmp();
    while (isOp('&&', 'and')) {
      eat();
      const r = cmp();
      l = truth(l) && truth(r);
    }
    return l;
  };
  const cmp = (): unknown => {
    const l = unary();
    if (isOp('==', '!=', '<', '<=', '>', '>=', 'in')) {
      const op = eat().v;
      const r = unary();
      switch (op) {
        case '==':
          return JSON.stringify(l) === JSON.stringify(r);
        case '!=':
          return JSON.stringify(l) !== JSON.stringify(r);
        case 'in':
          if (!Array.isArray(r)) throw new Error(`in needs an array in ${condition}`);
          return r.some((x) => JSON.stringify(x) === JSON.stringify(l));
        default: {
          if (typeof l !== typeof r || (typeof l !== 'number' && typeof l !== 'string'))
            throw new Error(`invalid operation ${op} on ${typeof l} and ${typeof r}`);
          const [a, b] = [l as number, r as number];
          return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
        }
      }
    }
    return l;
  };
  const unary = (): unknown => {
    if (isOp('!', 'not')) {
      eat();
      return !truth(unary());
    }
    return member();
  };
  const member = (): unknown => {
    let v = primary();
    while (isOp('.')) {
      eat();
      const f = eat().v;
      if (v === null || typeof v !== 'object') throw new Error(`cannot fetch ${f} from ${typeof v}`);
      v = (v as Record<string, unknown>)[f];
    }
    return v;
  };
  const primary = (): unknown => {
    const t = eat();
    if (t.k === 'str') return t.v;
    if (t.k === 'num') return Number(t.v);
    if (t.k === 'id') {
      if (t.v === 'result') return result;
      if (t.v === 'true') return true;
      if (t.v === 'false') return false;
      if (t.v === 'nil') return null;
      throw new Error(`unknown name ${t.v} in ${condition}`);
    }
    if (t.v === '(') {
      const v = or();
      eat(')');
      return v;
    }
    if (t.v === '[') {
      const items: unknown[] = [];
      while (!isOp(']')) {
        items.push(or());
        if (isOp(',')) eat(',');
      }
      eat(']');
      return items;
    }
    throw new Error(`unexpected ${t.v} in ${condition}`);
  };
  const truth = (v: unknown) => {
    if (typeof v !== 'boolean') throw new Error(`expected bool, but got ${typeof v} in ${condition}`);
    return v;
  };
  const v = or();
  if (p !== toks.length) throw new Error(`trailing input in ${condition}`);
  if (typeof v !== 'boolean') throw new Error(`expected bool, but got ${typeof v}`);
  return v;
}

/** EvaluateResult (evaluate.go). */
export function evaluateResult(result: unknown, m: Metric): 'Successful' | 'Failed' | 'Inconclusive' | 'Error' {
  try {
    let ok = m.successCondition ? evalCondition(result, m.successCondition) : false;
    let fail = m.failureCondition ? evalCondition(result, m.failureCondition) : false;
    if (!m.successCondition && !m.failureCondition) return 'Successful';
    if (m.successCondition && !m.failureCondition) fail = !ok;
    if (!m.successCondition && m.failureCondition) ok = !fail;
    if (fail) return 'Failed';
    if (!ok) return 'Inconclusive';
    return 'Successful';
  } catch {
    return 'Error';
  }
}

/** The web provider's jsonPath for the forms a template uses: `{$}` and `{$.a.b}`. */
export function jsonPath(data: unknown, path = '{$}'): unknown {
  const m = /^\{\$((?:\.[A-Za-z0-9_-]+)*)\}$/.exec(path);
  if (!m) throw new Error(`jsonPath ${path}: only {$} and {$.field...} are modelled`);
  let v = data;
  for (const f of (m[1] as string).split('.').slice(1)) {
    if (v === null || typeof v !== 'object' || !(f in v)) return undefined;
    v = (v as Record<string, unknown>)[f];
  }
  return v;
}

/** One measurement of the web provider from an HTTP answer (webmetric.go Run and parseResponse). */
export function measure(m: Metric, status: number, body: string): 'Successful' | 'Failed' | 'Inconclusive' | 'Error' {
  if (status < 200 || status >= 300) return 'Error';
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return evaluateResult(body, m);
  }
  const v = jsonPath(data, m.provider.web?.jsonPath);
  if (v === undefined) return 'Error'; // "result of web metric produced no value"
  return evaluateResult(v, m);
}

/** The metric's phase after a sequence of measurements (assessMetricStatus, not terminating). */
export function assess(m: Metric, measurements: readonly string[]): Phase {
  const r = { count: 0, failed: 0, inconclusive: 0, consecutiveError: 0, consecutiveSuccess: 0 };
  let phase: Phase = 'Pending';
  for (const x of measurements) {
    if (phase !== 'Running' && phase !== 'Pending') break; // a completed metric takes no more measurements
    if (x === 'Successful') {
      r.count++;
      r.consecutiveError = 0;
      r.consecutiveSuccess++;
    } else if (x === 'Failed') {
      r.failed++;
      r.count++;
      r.consecutiveError = 0;
      r.consecutiveSuccess = 0;
    } else if (x === 'Inconclusive') {
      r.inconclusive++;
      r.count++;
      r.consecutiveError = 0;
      r.consecutiveSuccess = 0;
    } else {
      r.consecutiveError++;
      r.consecutiveSuccess = 0;
    }
    const failureLimit = m.failureLimit ?? 0;
    let p: Phase | null = null;
    if (failureLimit >= 0 && r.failed > failureLimit) p = 'Failed';
    if (r.inconclusive > (m.inconclusiveLimit ?? 0)) p = 'Inconclusive';
    if (r.consecutiveError > (m.consecutiveErrorLimit ?? 4)) p = 'Error';
    if (p) {
      phase = p;
      continue;
    }
    const csl = m.consecutiveSuccessLimit ?? 0;
    if (csl > 0 && r.consecutiveSuccess >= csl) {
      phase = 'Successful';
      continue;
    }
    const effectiveCount = m.count && m.count > 0 ? m.count : m.interval ? null : 1;
    if (effectiveCount !== null && r.count >= effectiveCount) {
      const failureApplicable = failureLimit >= 0;
      phase = failureApplicable && csl > 0 ? 'Inconclusive' : csl > 0 ? 'Failed' : 'Successful';
      continue;
    }
    phase = 'Running';
  }
  return phase;
}
