#!/bin/sh
# The README's backdoor-defence table: for each model, `reconstruct` on the defender's data, then each repair method.
# Usage: sh scripts/backdoor-table.sh OUTDIR MODEL... (e.g. models/lenet5-badnets.onnx)
# Writes OUTDIR/NAME.reconstruct.json, OUTDIR/nc-NAME/ and OUTDIR/NAME.METHOD.json (+ .onnx, .delta.safetensors).
# Extra flags for every command come from $FLAGS (e.g. FLAGS='--threads 1'); for reconstruct also from $NC_FLAGS, for repair from $REPAIR_FLAGS.
set -e
out=$1
shift
mkdir -p "$out"
scalpel() { node --import tsx src/cli/main.ts $FLAGS "$@"; }
for model in "$@"; do
  name=$(basename "$model" .onnx)
  scalpel reconstruct "$model" --data fashion-mnist $NC_FLAGS -o "$out/nc-$name" --json > "$out/$name.reconstruct.json"
  if grep -q scalpel.poison "$model"; then
    for method in unlearn fine-prune finetune; do
      scalpel repair "$model" --method "$method" --data fashion-mnist --triggers "$out/nc-$name" $REPAIR_FLAGS \
        -o "$out/$name.$method.onnx" --delta "$out/$name.$method.delta.safetensors" --json > "$out/$name.$method.json" \
        || echo "{\"method\": \"$method\", \"failed\": true}" > "$out/$name.$method.json"
    done
  fi
done
