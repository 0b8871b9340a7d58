"""Training: the spec's negative sampling (``sampling``), the optimiser (AdamW without bias
correction) and schedule (``optim``), typed training settings read from YAML and the command
line (``config``), the training loop (``loop``; Accelerate: CPU, GPU, mixed precision, data
parallel) and the last checkpoint a run resumes from (``resume``), a model evaluated on gold
data (``evaluation``), experiments of several runs (``experiments``: seeds,
cross-validation, ablations) with their typed summaries (``summary``), the model card every
trained model directory gets (``model_card``), the losses toward a teacher's outputs
(``distillation``) and the teacher a distilled student trains beside (``teacher``, ``spert distill``). Uses ``infer`` and ``eval`` for validation; depends on nothing above it
(Label Studio's fine-tuning rounds are :mod:`spert.integrations.label_studio`)."""
