// Reads the deploys of a backtest (contracts §4: a JSON array of contracts §2 deploys), validated against
// the same schema as the HTTP API; every problem names the file, the array index and the field.
import { readFileSync } from 'node:fs';
import { toDeploy, type Deploy } from '../model/deploy.js';
import { validateDeployInput } from '../model/validate.js';

export class DeployFileError extends Error {
  override name = 'DeployFileError';
}

export function readDeploysFile(path: string): Deploy[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DeployFileError(`${path}: cannot read: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const line = m ? text.slice(0, Number(m[1])).split('\n').length : null;
    throw new DeployFileError(`${path}${line ? `:${line}` : ''}: not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new DeployFileError(`${path}: expected a JSON array of deploys`);
  const problems: string[] = [];
  const deploys: Deploy[] = [];
  const ids = new Set<string>();
  data.forEach((item, i) => {
    const r = validateDeployInput(item);
    if (!r.ok) {
      for (const p of r.problems) problems.push(`${path}: [${i}]${p.path ? `.${p.path}` : ''}: ${p.message}`);
      return;
    }
    if (ids.has(r.value.id)) problems.push(`${path}: [${i}].id: "${r.value.id}" appears twice`);
    ids.add(r.value.id);
    if (!r.value.startedAt) problems.push(`${path}: [${i}].startedAt: required in a backtest (there is no "now")`);
    deploys.push(toDeploy(r.value, 0));
  });
  if (problems.length) throw new DeployFileError(problems.join('\n'));
  return deploys;
}
