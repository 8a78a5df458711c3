#!/usr/bin/env bash
# Fine-tuning versus training from scratch on the built-in shapes (issue 16):
# a network trained on circles is fine-tuned on triangles (`--init`), and the
# same networks are trained on triangles from random weights for the same kimg.
# Both are judged at every snapshot by the built-in Fréchet distance against
# the triangles (`fd_shapes2k_full`). Results: docs/RESULTS.md.
#
#   bash bench/finetune_shapes.sh [OUT]      (default OUT: runs/finetune; ~25 min on 2 cores)
set -euo pipefail
OUT=${1:-runs/finetune}
KS=${KERAS_STYLEGAN:-keras-stylegan}
SRC_KIMG=${SRC_KIMG:-30}
KIMG=${KIMG:-20}
# cpu-demo's networks, unconditional, one shape, objects centred, no growing.
common=(--data builtin --config cpu-demo --set use_labels=false --set progressive=false)
shape() { echo "builtin_fixed={\"shape\": \"$1\", \"x\": 0.5, \"y\": 0.5}"; }

"$KS" train "${common[@]}" --set "$(shape circle)" --kimg "$SRC_KIMG" --snap "$SRC_KIMG" \
    --outdir "$OUT/circles"
"$KS" train "${common[@]}" --set "$(shape triangle)" --kimg "$KIMG" --snap 5 \
    --init "$OUT/circles" --resolution 16 --outdir "$OUT/finetuned" &
"$KS" train "${common[@]}" --set "$(shape triangle)" --kimg "$KIMG" --snap 5 \
    --outdir "$OUT/scratch" &
wait
for run in finetuned scratch; do
    for snap in "$OUT/$run"/network-snapshot-*.keras; do
        "$KS" metrics --network "$snap" --metrics fd_shapes2k_full --outdir "$OUT/$run/metrics"
    done
done
