#!/usr/bin/env node
// The `navigator` command. `npm ci` builds dist/ through the `prepare` script.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('navigator: dist/ is missing; run `npm run build` (npm ci runs it for you)\n');
  process.exit(3);
}
await import(main);
