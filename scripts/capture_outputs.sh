#!/usr/bin/env bash
# Outputs of every user-facing path, for a byte-for-byte comparison before and after a change that
# must not change behaviour (issue 15's renovation; issue 17's "no change for the default encoder").
#
#   scripts/capture_outputs.sh OUT [RUN_DIR]
#   diff -r OUT_BEFORE OUT_AFTER
#
# Without RUN_DIR it first trains a small CoNLL04 run (1 epoch, 120 sentences) into OUT/train with
# one thread, where training is bit-reproducible (MKL picks its thread count by load otherwise,
# which changes sums in the 7th digit); with RUN_DIR (a spert train output directory) it uses that
# run's model, so two trees can be compared on the same weights. Then: spert evaluate (plain, and
# --no-overlap at threshold 0.2), spert predict on SpERT JSON and on raw text (80 sentences, and
# one long line that takes the windows), pre-annotations for brat, doccano and Label Studio and
# their import back, spert report, spert render --gold, spert data stats, and the served answers
# (/v1/extract, /v1/relations and a Label Studio /predict: scripts/capture_serve.py).
# To run another tree's code: PYTHONPATH=OTHER/src scripts/capture_outputs.sh OUT.
# What legitimately differs: the output paths printed in *.stdout and the import summaries,
# progress bars, train_seconds in metrics.json, sentences/s in log.csv, and the order of the two
# metadata keys in model.safetensors' header (safetensors writes them in hash order).
set -euo pipefail
OUT=$(realpath -m "$1"); RUN=${2:+$(realpath "$2")}
cd "$(dirname "$0")/.."
rm -rf "$OUT"; mkdir -p "$OUT"
PY=${PYTHON:-.venv/bin/python}
S="$PY -m spert"
if [ -z "$RUN" ]; then
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MKL_DYNAMIC=FALSE $S train -q --config configs/conll04.yaml --epochs 1 \
    --max_train_docs 120 --max_eval_docs 60 --eval_every 1 --valid_path data/conll04/conll04_dev.json \
    --output_dir "$OUT/train" > "$OUT/train.stdout"
  RUN="$OUT/train"
fi
M="$RUN/model"
T=data/conll04/conll04_test.json
$S evaluate -m "$M" -d $T -o "$OUT/eval" > "$OUT/eval.stdout" 2>/dev/null
$S evaluate -m "$M" -d $T -o "$OUT/eval_no" --no-overlap --rel-filter-threshold 0.2 > "$OUT/eval_no.stdout" 2>/dev/null
$S predict -m "$M" $T -o "$OUT/pred.jsonl" 2>/dev/null
$PY - "$T" > "$OUT/raw.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for x in d[:80]:
    print(" ".join(x["tokens"]))
print(" ".join(" ".join(x["tokens"]) for x in d[:60]))
PY
$S predict -m "$M" "$OUT/raw.txt" -o "$OUT/raw_pred.jsonl" 2>/dev/null
$S predict -m "$M" "$OUT/raw.txt" --format brat -o "$OUT/pre_brat" > /dev/null 2>&1
$S predict -m "$M" "$OUT/raw.txt" --format doccano -o "$OUT/pre_doccano.jsonl" > /dev/null 2>&1
$S predict -m "$M" "$OUT/raw.txt" --format labelstudio -o "$OUT/pre_ls.json" > /dev/null 2>&1
for f in brat:pre_brat doccano:pre_doccano.jsonl labelstudio:pre_ls.json; do
  $S data import "${f%%:*}" "$OUT/${f#*:}" -o "$OUT/imp_${f%%:*}.json" --types-output "$OUT/imp_${f%%:*}_types.json" \
    > "$OUT/imp_${f%%:*}.stdout" 2>&1
done
$S report "$RUN" -o "$OUT/report" --max-docs 60 > "$OUT/report.stdout" 2>/dev/null
$S render "$OUT/pred.jsonl" --gold $T -o "$OUT/errors.html" > /dev/null
$S data stats $T > "$OUT/stats.txt" 2>&1
$PY scripts/capture_serve.py "$M" "$OUT/serve" 2>/dev/null
echo "captured in $OUT"
