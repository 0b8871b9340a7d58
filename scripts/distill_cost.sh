#!/usr/bin/env bash
# The online teacher's cost: one epoch of the first 100 CoNLL04 train_dev sentences, one thread, plain
# training against spert distill (and with spans and pairs for the distillation loss alone), in turn.
# usage: scripts/distill_cost.sh TEACHER_MODEL_DIR [ROUNDS]
set -euo pipefail
T=$1; ROUNDS=${2:-3}; OUT=$(mktemp -d)
common=(-c configs/conll04.yaml --max_train_docs 100 --epochs 1 --test_path null -q)
run() {
  local name=$1; shift
  /usr/bin/time -f "$name: %e s wall, %U s user CPU, %M KB peak" env OMP_NUM_THREADS=1 \
    python -m spert "$@" "${common[@]}" --output_dir "$OUT/$name" 2>&1 | tail -1
  echo "  training loop sentences/s: $(tail -1 "$OUT/$name/log.csv" | awk -F, '{print $NF}')"
}
run warm-up train
for _ in $(seq "$ROUNDS"); do
  run plain train
  run distilled distill --teacher "$T"
  run distilled+spans+pairs distill --teacher "$T" --distill_spans 100 --distill_teacher_pairs 20
done
rm -rf "$OUT"
