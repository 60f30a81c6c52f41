#!/usr/bin/env bash
# The contract check (`make contract`): what a frontend team and a Python integrator generate
# from the gateway's merged OpenAPI document must work with the generators' default options.
#   1. dump the merged document, in-process (no service needs to run);
#   2. TypeScript types with openapi-typescript (default options), then compile the typed
#      openapi-fetch client in client.ts with `tsc --noEmit --strict`;
#   3. a Python client with openapi-python-client, failing on any warning.
# Tools are pinned: package-lock.json (npm ci) and requirements.txt (its own venv).
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd .. && pwd)"
out="$root/build/contract"
python="${PYTHON:-$root/.venv/bin/python}"
mkdir -p "$out" build

echo "contract: dumping the merged OpenAPI document"
(cd "$root" && "$python" -m contract.dump_openapi "$out/openapi.json")

echo "contract: TypeScript types (openapi-typescript, default options) and a strict compile"
[ -d node_modules ] && npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --silent
npx --no-install openapi-typescript "$out/openapi.json" -o build/schema.d.ts
npx --no-install tsc --noEmit --strict -p tsconfig.json

echo "contract: Python client (openapi-python-client)"
venv="$out/venv"
stamp="$venv/.requirements"
if ! cmp -s requirements.txt "$stamp" 2>/dev/null; then
  rm -rf "$venv"
  "${PYTHON311:-python3.11}" -m venv "$venv"
  "$venv/bin/pip" install --quiet -r requirements.txt
  cp requirements.txt "$stamp"
fi
rm -rf "$out/python-client"
log="$out/python-client.log"
# Its post-generation hooks run ruff from PATH: the venv's own, pinned with it.
PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate \
  --path "$out/openapi.json" --output-path "$out/python-client" --meta none 2>&1 | tee "$log"
if grep -qi "warning" "$log"; then
  echo "contract: openapi-python-client warned about the document (above)" >&2
  exit 1
fi
"$venv/bin/python" -m compileall -q "$out/python-client" >/dev/null
echo "contract: ok"
