"""Which ONNX Runtime int8 keeps NER and REL+ within 0.5 points of fp32 on CoNLL04 test?

Usage (from the project root): PYTHONPATH=src python scripts/int8_recipes.py MODEL_DIR WORK_DIR THREADS [VARIANTS]
Each variant: F1 against gold, change against PyTorch fp32, speed-up of the whole prediction and of the
encoder alone (median of two passes interleaved with PyTorch), documents whose predictions differ.
"""
import json, sys, time, statistics
from pathlib import Path
import numpy as np, torch
from spert.model.checkpoint import load_model
from spert.data.documents import read_documents
from spert.model.encoding import encode_words_batch
from spert.infer.runner import predict_documents
from spert.tools.onnx_export import build_fp32_graph, write_export, INT8_RECIPES, Int8Recipe
from spert.tools.bench.inference import F1, Agreement, encoder_batches, run_encoder
from spert.infer.options import PredictOptions

torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
model_dir, work = Path(sys.argv[1]), Path(sys.argv[2]); work.mkdir(parents=True, exist_ok=True)
model, tok, inf = load_model(model_dir)
test = read_documents("data/conll04/conll04_test.json", model.schema)
train = read_documents("data/conll04/conll04_train_dev.json", model.schema)
tokens = [d.tokens for d in test]
enc = encode_words_batch(tok, tokens)
batches = encoder_batches(model, enc, 8, tok.pad_token_id)
thr = inf.rel_filter_threshold

def run(m):
    t0 = time.perf_counter(); preds = predict_documents(m, tok, tokens,
                                                        PredictOptions(batch_size=8, rel_filter_threshold=thr),
                                                        encodings=enc); t = time.perf_counter() - t0
    t1 = time.perf_counter(); run_encoder(m, batches); te = time.perf_counter() - t1
    return preds, t, te

ref, t_ref, te_ref = run(model); ref, t_ref, te_ref = run(model)
f_ref = F1.of(test, ref)
print(f"torch fp32: F1 {f_ref}, {t_ref:.2f}s, enc {te_ref:.2f}s", flush=True)
graph = build_fp32_graph(model, work)
print("fused", graph.fused_operators, graph.seconds, flush=True)

# static QDQ, calibrated on training sentences
def static(out_dir, per_channel=True, method="MinMax", n_cal=200, exclude_re=None):
    import onnx, re
    from onnxruntime.quantization import quantize_static, CalibrationDataReader, QuantFormat, QuantType, CalibrationMethod
    cal_tokens = [d.tokens for d in train[:n_cal]]
    cal_enc = encode_words_batch(tok, cal_tokens)
    cal_batches = encoder_batches(model, cal_enc, 8, tok.pad_token_id)
    class R(CalibrationDataReader):
        def __init__(s): s.it = iter([{"input_ids": b.input_ids.numpy().astype(np.int64), "attention_mask": b.attention_mask.numpy().astype(np.int64)} for b in cal_batches])
        def get_next(s): return next(s.it, None)
    nodes = [n.name for n in onnx.load(str(graph.path)).graph.node]
    exclude = [n for n in nodes if exclude_re and re.search(exclude_re, n)]
    out_dir.mkdir(parents=True, exist_ok=True)
    d = write_export(model, tok, inf, graph, out_dir, None)
    quantize_static(str(graph.path), str(d.output / "encoder.onnx"), R(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                    reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=["MatMul"], nodes_to_exclude=exclude,
                    calibrate_method=getattr(CalibrationMethod, method),
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True})
    return d.output

variants = {"onnx-fp32": None, **{k: v for k, v in INT8_RECIPES.items()},
            "dynamic-per-channel-8bit": Int8Recipe("dynamic-per-channel-8bit", True, False),
            "dynamic-7bit": Int8Recipe("dynamic-7bit", False, True)}
only = sys.argv[4].split(",") if len(sys.argv) > 4 else None
rows = {}
for name, recipe in list(variants.items()) + [("static-minmax", "static"), ("static-percentile", "static-p")]:
    if only and name not in only: continue
    t0 = time.perf_counter()
    try:
      if recipe == "static": d = static(work / name)
      elif recipe == "static-p": d = static(work / name, method="Percentile")
      else: d = write_export(model, tok, inf, graph, work / name, recipe).output
    except Exception as e:
      print(name, "FAILED", repr(e)[:300], flush=True); continue
    tq = time.perf_counter() - t0
    m, _, _ = load_model(d, backend="onnx")
    run(m)
    # interleave with torch for a fair speed ratio
    times, tref = [], []
    for _ in range(2):
        p, t, te = run(m); times.append((t, te)); _, t2, te2 = run(model); tref.append((t2, te2))
    f = F1.of(test, p)
    ag = Agreement.of(ref, p)
    sp = statistics.median(a[0] / b[0] for a, b in zip(tref, times)); spe = statistics.median(a[1] / b[1] for a, b in zip(tref, times))
    rows[name] = dict(f1=f.to_json(), change=f.minus(f_ref).to_json(), speedup=round(sp, 2), enc_speedup=round(spe, 2),
                      identical=ag.identical, differing=ag.documents_differing, maxd=ag.max_score_difference, build_s=round(tq, 1))
    print(name, json.dumps(rows[name]), flush=True)
json.dump({"torch": f_ref.to_json(), "rows": rows}, open(work / "quant_results.json", "w"), indent=1)
