#!/usr/bin/env bash
# Build the sdist and the wheel, install the wheel into a clean virtual environment (no
# source tree on its path), and run what a new user runs first: `spert --help`, a tiny
# training run, the README's Python API example, and `spert render` (package templates).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

.venv/bin/python -m build --sdist --wheel --outdir "$WORK/dist" . > "$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; exit 1; }
ls "$WORK/dist"
# package data travels (listings saved first: grep -q would cut the pipe under pipefail)
tar tzf "$WORK"/dist/spert-*.tar.gz > "$WORK/sdist.txt"
unzip -l "$WORK"/dist/spert-*.whl > "$WORK/wheel.txt"
grep -q "src/spert/eval/templates/base.html.j2" "$WORK/sdist.txt"
grep -q "spert/eval/templates/base.html.j2" "$WORK/wheel.txt"

python3 -m venv "$WORK/venv"
PIP="$WORK/venv/bin/python -m pip -q"
$PIP install "torch==2.13.0"          # the CPU build from local disk, as scripts/setup.sh does
$PIP install "$WORK"/dist/spert-*.whl
cd "$WORK"                            # nothing of the source tree importable from here
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$WORK/venv/bin/spert" --help > /dev/null
"$WORK/venv/bin/python" -c "import spert, sys; assert '$ROOT' not in spert.__file__, spert.__file__"
"$WORK/venv/bin/spert" train --train_path "$ROOT/data/conll04/conll04_train.json" \
    --types_path "$ROOT/data/conll04/conll04_types.json" --test_path "$ROOT/data/conll04/conll04_test.json" \
    --max_train_docs 8 --max_eval_docs 8 --epochs 1 --output_dir "$WORK/run" -q > /dev/null
# the README's Python API example, pointed at the tiny model
sed -n '/^### Python API/,/^```$/p' "$ROOT/README.md" | sed '1,/^```python$/d;/^```$/d' \
    | sed "s#runs/conll04/model#$WORK/run/model#" > example.py
grep -q "SpERT.load" example.py
"$WORK/venv/bin/python" example.py
"$WORK/venv/bin/spert" render "$WORK/run/predictions.json" -o page.html > /dev/null
grep -q "<html" page.html
echo "wheel check: passed"
