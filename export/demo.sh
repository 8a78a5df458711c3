#!/usr/bin/env bash
# Export a generator, serve it briefly over TF Serving's REST protocol, fetch a PNG grid.
#
# Usage: export/demo.sh NETWORK [OUTDIR]
#   NETWORK  a training run dir, a .keras snapshot, a legacy .pkl, or preset:NAME
#   OUTDIR   where serve-grid.png is written (default: demo-out)
# Environment: PYTHON (default: .venv/bin/python if present, else python3).
#
# Example (from the repository root, after `make install`):
#   bash export/demo.sh runs/demo
set -euo pipefail

NETWORK=${1:?usage: export/demo.sh NETWORK [OUTDIR]}
OUTDIR=${2:-demo-out}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
KS=("$PYTHON" -m keras_stylegan.cli)
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

MODELS=$(mktemp -d "${TMPDIR:-/tmp}/keras-stylegan-demo.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$MODELS"
}
trap cleanup EXIT

echo "== export $NETWORK -> $MODELS/demo/1 (SavedModel, TF Serving layout)"
"${KS[@]}" export --network "$NETWORK" --out "$MODELS" --name demo --version 1

PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== serve on http://127.0.0.1:$PORT/v1/models/demo"
"${KS[@]}" serve --model-base-path "$MODELS" --host 127.0.0.1 --port "$PORT" &
SERVER_PID=$!

mkdir -p "$OUTDIR"
"$PYTHON" - "$PORT" "$OUTDIR/serve-grid.png" <<'EOF'
import json, sys, time, urllib.request

port, out = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}/v1/models/demo"
deadline = time.time() + 180
while True:
    try:
        status = json.load(urllib.request.urlopen(base, timeout=5))
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("the server did not start in 180 s")
        time.sleep(0.5)
print("status:", json.dumps(status["model_version_status"]))
meta = json.load(urllib.request.urlopen(base + "/metadata", timeout=30))
inputs = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
query = "seeds=0-7&psi=0.7&cols=4" + ("&class=0" if "labels" in inputs else "")
data = urllib.request.urlopen(f"{base}/image?{query}", timeout=300).read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("the image endpoint did not return a PNG")
with open(out, "wb") as f:
    f.write(data)
print(f"GET {base}/image?{query} -> {out} ({len(data)} bytes)")
EOF
echo "== stop the server"
