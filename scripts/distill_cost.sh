#!/usr/bin/env bash
# What a teacher costs a student's training: one epoch of the first 100 CoNLL04 train_dev sentences,
# one thread, plain training against spert distill with the teacher's outputs cached (computed once
# before training, the default where it can) and online (beside the student at every update), in
# turn. The training loop's rate is log.csv's; the whole process includes loading both models and,
# for the cached run, the teacher's pass over the 100 sentences.
# usage: scripts/distill_cost.sh TEACHER_MODEL_DIR [ROUNDS] [extra spert distill settings...]
set -euo pipefail
T=$1; ROUNDS=${2:-3}; shift $(( $# >= 2 ? 2 : 1 )); OUT=$(mktemp -d)
common=(-c configs/conll04.yaml --max_train_docs 100 --epochs 1 --test_path null -q)
run() {
  local name=$1; shift
  rm -rf "${OUT:?}/$name"  # each run from scratch (a cached run would read the last one's outputs back)
  /usr/bin/time -f "$name: %e s wall, %U s user CPU, %M KB peak" env OMP_NUM_THREADS=1 \
    python -m spert "$@" "${common[@]}" --output_dir "$OUT/$name" > "$OUT/$name.log" 2>&1
  tail -1 "$OUT/$name.log"
  grep -o "the teacher's outputs over.*" "$OUT/$name.log" | sed 's/^/  /' || true
  echo "  training loop sentences/s: $(tail -1 "$OUT/$name/log.csv" | awk -F, '{print $NF}')"
}
run warm-up train
for _ in $(seq "$ROUNDS"); do
  run plain train
  run cached distill --teacher "$T" --teacher_outputs cached "$@"
  run online distill --teacher "$T" --teacher_outputs online "$@"
done
rm -rf "$OUT"
