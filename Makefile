# `make train`: set up and train CoNLL04 with the paper's settings (the main job).
# `make test`:  set up and run the test suite (what CI runs).
.PHONY: setup train test

setup:
	bash scripts/setup.sh

train: setup
	.venv/bin/spert train --config configs/conll04.yaml

test: setup
	.venv/bin/python -m pytest -q
