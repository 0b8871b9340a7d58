#!/usr/bin/env bash
# Issue 27's measurement on CoNLL04, resumable: run it again after an interruption (a finished step is
# skipped, an interrupted training resumes from its last checkpoint). One thread per training; give
# it a core of its own. Steps: the all-mpnet-base-v2 teacher (paper settings, 20 epochs, seed 42),
# three MiniLM students (seeds 42, 43, 44; plain MiniLM with the same seeds is
# runs/conll04_spec_sS, the spec row of issue 28), then prediction speed and memory of plain MiniLM,
# student and teacher side by side (scripts/bench_models.py: rounds in turn, medians), and spert
# compare of students against plain. The students read the teacher's outputs from a cache computed
# once (teacher_outputs auto): a student costs about a plain run.
# usage: scripts/distillation_runs.sh MPNET_DIR [RUNS_DIR] [extra spert distill settings...]
set -euo pipefail
MPNET=$1; RUNS=${2:-runs}; shift $(( $# >= 2 ? 2 : 1 ))
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}

train() {  # train OUTPUT_DIR spert-command args...: skip a finished run, resume an interrupted one
  local out=$1; shift
  [ -f "$out/metrics.json" ] && { echo "done: $out"; return; }
  local resume=(); [ -f "$out/last/trainer_state.json" ] && resume=(--resume)
  echo "running: $out ${resume[*]}"
  python -m spert "$@" -c configs/conll04.yaml --checkpoint_every 150 --output_dir "$out" "${resume[@]}" -q
}

train "$RUNS/conll04_mpnet_teacher_s42" train --seed 42 --encoder "$MPNET"
for s in 42 43 44; do
  train "$RUNS/conll04_student_s$s" distill --teacher "$RUNS/conll04_mpnet_teacher_s42/model" --seed "$s" "$@"
  train "$RUNS/conll04_spec_s$s" train --seed "$s"
done
OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 python scripts/bench_models.py "plain MiniLM=$RUNS/conll04_spec_s42/model" \
  "student=$RUNS/conll04_student_s42/model" "mpnet teacher=$RUNS/conll04_mpnet_teacher_s42/model" \
  --rounds 3 --out "$RUNS/bench_distillation"
python -m spert compare "plain=$RUNS/conll04_spec_s4?" "student=$RUNS/conll04_student_s4?" -o "$RUNS/compare_distillation"
