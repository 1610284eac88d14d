#!/usr/bin/env bash
# The whole test suite, as CI runs it (`npm test`): system packages the tests need, types, lint, unit and
# cross-process tests, then every example recording in ../shared against its expected verdicts.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real Prometheus and Alertmanager for the end-to-end tests (Debian packages). As root we install them;
# otherwise we say what is missing and the tests that need them fail with the same message.
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v victoria-metrics >/dev/null 2>&1 || need+=(victoria-metrics)
# PostgreSQL for the store contract and replica tests (test/support/postgres.ts starts throwaway clusters).
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v openssl >/dev/null 2>&1 || need+=(openssl) # test/prometheus-tls.test.ts makes its certificates
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing ${need[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
  else
    echo "test: missing ${need[*]}: install them with 'sudo apt-get install $(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')'" >&2
  fi
fi

# Headless Chromium for the on-call page's browser tests (test/ui-browser.test.ts), driven by playwright-core.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${CHROMIUM_PATH:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing chromium (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "test: missing chromium: install it with 'sudo apt-get install chromium' (or set CHROMIUM_PATH)" >&2
  fi
fi

npm run --silent build
npm run --silent typecheck
npm run --silent lint
npx vitest run
# The shared example recordings: fail if one disagrees with its expect.json.
if [ -f ../shared/scenarios/check.mjs ]; then
  cases=(../shared/scenarios)
  [ -d ../shared/datasets ] && cases+=(../shared/datasets)
  # Real series with real outages and surges (NAB tweets, Microsoft purchases): the always-on watch.
  [ -d ../shared/outages ] && cases+=(../shared/outages)
  node ../shared/scenarios/check.mjs "${cases[@]}"
else
  echo "test: ../shared/scenarios not found next to this checkout; the shared example recordings were not run"
fi
