#!/usr/bin/env bash
# Issue 27's measurement, resumable: run it again after an interruption (a finished step is skipped,
# an interrupted training resumes from its last checkpoint). Steps: the all-mpnet-base-v2 teacher
# (paper settings, 20 epochs, seed 42; TEACHER_THREADS threads, default 2: give it the machine), then
# MiniLM students and plain MiniLM runs of the same seeds, two at a time with one thread each (the
# students read the teacher's outputs from a cache computed once, teacher_outputs auto, so a student
# costs about a plain run), then prediction speed and memory of plain MiniLM, student and teacher
# side by side (scripts/bench_models.py: rounds in turn, medians) and spert compare of students
# against plain.
# DATASET=conll04 (default; seeds 42 43 44) or DATASET=scierc (configs/scierc.yaml; seed 42).
# PLAIN_RUNS=DIR: compare with plain runs made earlier on this machine (DIR/${DATASET}_spec_sSEED, each with
# metrics.json and predictions.json, as docs/results/cpu-2026-12-04 holds) instead of training them again;
# the students then run all at once, one thread each; PLAIN_MODEL=DIR: the plain MiniLM model bench_models
# times (default: the first seed's plain run's model).
# usage: [DATASET=scierc] [SEEDS="42 43"] [PLAIN_RUNS=DIR] scripts/distillation_runs.sh MPNET_DIR [RUNS_DIR] [extra spert distill settings...]
set -euo pipefail
MPNET=$1; RUNS=${2:-runs}; shift $(( $# >= 2 ? 2 : 1 ))
DATASET=${DATASET:-conll04}; CONFIG=configs/$DATASET.yaml
[ "$DATASET" = conll04 ] && SEEDS=${SEEDS:-42 43 44} || SEEDS=${SEEDS:-42}
TEACHER=$RUNS/${DATASET}_mpnet_teacher_s42

train() {  # train THREADS OUTPUT_DIR spert-command args...: skip a finished run, resume an interrupted one
  local threads=$1 out=$2; shift 2
  [ -f "$out/metrics.json" ] && { echo "done: $out"; return; }
  local resume=(); [ -f "$out/last/trainer_state.json" ] && resume=(--resume)
  echo "$(date +%T) running: $out ${resume[*]}"
  OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
    python -m spert "$@" -c "$CONFIG" --checkpoint_every 150 --output_dir "$out" "${resume[@]}" -q
  echo "$(date +%T) finished: $out"
}

PLAIN=${PLAIN_RUNS:-$RUNS}
if [ -n "${PLAIN_RUNS:-}" ]; then  # before the hours of the teacher: the plain runs to compare with exist
  for s in $SEEDS; do
    [ -f "$PLAIN/${DATASET}_spec_s$s/metrics.json" ] || { echo "no plain run $PLAIN/${DATASET}_spec_s$s" >&2; exit 2; }
  done
fi
train "${TEACHER_THREADS:-2}" "$TEACHER" train --seed 42 --encoder "$MPNET"
if [ -n "${PLAIN_RUNS:-}" ]; then  # every student at once; the plain runs exist
  for s in $SEEDS; do train 1 "$RUNS/${DATASET}_student_s$s" distill --teacher "$TEACHER/model" --seed "$s" "$@" & done
  for s in $SEEDS; do wait -n; done  # any failing stops the script (set -e)
else
  for s in $SEEDS; do  # a student and the plain run of its seed side by side
    train 1 "$RUNS/${DATASET}_student_s$s" distill --teacher "$TEACHER/model" --seed "$s" "$@" &
    train 1 "$RUNS/${DATASET}_spec_s$s" train --seed "$s" &
    wait -n  # either failing stops the script (set -e)
    wait -n
  done
fi
first=${SEEDS%% *}
OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 python scripts/bench_models.py \
  "plain MiniLM=${PLAIN_MODEL:-$RUNS/${DATASET}_spec_s$first/model}" \
  "student=$RUNS/${DATASET}_student_s$first/model" "mpnet teacher=$TEACHER/model" \
  --data "$(sed -n 's/^test_path: *//p' "$CONFIG")" --rounds 3 --out "$RUNS/bench_distillation_$DATASET"
python -m spert compare "plain=$PLAIN/${DATASET}_spec_s4?" "student=$RUNS/${DATASET}_student_s4?" \
  -o "$RUNS/compare_distillation_$DATASET"
