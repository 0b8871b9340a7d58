"""The printed tables of ``spert bench`` (a :class:`~spert.tools.bench.run.BenchResult`) and of
``spert bench serve`` (a :class:`~spert.tools.bench.loadtest.LoadTestResult`)."""

from __future__ import annotations

from spert.tools.bench.loadtest import LoadTestResult
from spert.tools.bench.run import BenchResult


def _inference_table(r: BenchResult) -> list[str]:
    lines = ["Inference, PyTorch fp32 (sentences/s; ratio = spert time / encoder-only time on the same batches, "
             "wall clock and process CPU time)",
             f"{'batch':>6}{'spert':>10}{'encoder':>10}{'ratio':>8}{'cpu r.':>8}{'naive':>10}{'speed-up':>10}"
             f"{'same':>6}"]
    for row in r.rows:
        nv = row.naive
        lines.append(f"{row.batch_size:>6}{row.inference.sentences_per_s:>10.1f}"
                     f"{row.encoder_only.sentences_per_s:>10.1f}{row.overhead_ratio:>8.3f}"
                     f"{row.overhead_ratio_cpu_time:>8.3f}"
                     + (f"{nv.inference.sentences_per_s:>10.1f}{nv.speedup:>10.2f}{'yes' if nv.identical else 'NO':>6}"
                        if nv else f"{'-':>26}"))
    return lines


def _backend_table(r: BenchResult) -> list[str]:
    names = [n for n in r.settings.backends if n != "torch"]
    if not names:
        return []
    lines = ["", "Backends (sentences/s; x = speed-up over PyTorch fp32, median of per-repeat ratios; "
                 "F1 change against PyTorch fp32; same = identical entity and relation sets, scores within 1e-4)",
             f"{'batch':>6}  {'backend':<11}{'spert':>9}{'encoder':>9}{'ratio':>7}{'x':>7}"
             f"{'NER':>8}{'REL+':>8}{'same':>6}{'max |d score|':>15}"]
    for row in r.rows:
        lines.append(f"{row.batch_size:>6}  {'torch':<11}{row.inference.sentences_per_s:>9.1f}"
                     f"{row.encoder_only.sentences_per_s:>9.1f}{row.overhead_ratio:>7.3f}{1:>7.2f}"
                     f"{row.f1.ner:>8.2f}{row.f1.rel_plus:>8.2f}{'-':>6}{'-':>15}")
        for name in names:
            b = row.backends[name]
            lines.append(f"{'':>6}  {name:<11}{b.inference.sentences_per_s:>9.1f}{b.encoder_only.sentences_per_s:>9.1f}"
                         f"{b.overhead_ratio:>7.3f}{b.speedup:>7.2f}{b.f1_change.ner:>+8.2f}"
                         f"{b.f1_change.rel_plus:>+8.2f}{'yes' if b.agreement.identical else 'NO':>6}"
                         f"{b.agreement.max_score_difference:>15.2g}")
    main = r.main
    for name in names:
        b = main.backends[name]
        lines.append(f"{name} at batch {main.batch_size}: x{b.speedup:.2f} PyTorch's speed; F1 cost NER "
                     f"{b.f1_change.ner:+.2f}, REL {b.f1_change.rel:+.2f}, REL+ {b.f1_change.rel_plus:+.2f} "
                     f"({'same predictions' if b.agreement.identical else f'{b.agreement.documents_differing} documents differ'})")
    return lines


def format_report(r: BenchResult) -> str:
    m = r.machine
    lines = [f"spert bench: {r.model}",
             f"data {r.data} ({r.sentences} sentences); {m.cpu}, {m.cores} cores, {m.torch_threads} torch threads",
             ""]
    lines += _inference_table(r)
    main = r.main
    f1 = main.f1
    lines += ["", f"F1 at batch size {main.batch_size} (micro): NER {f1.ner:.2f}, REL {f1.rel:.2f}, "
                  f"REL+ {f1.rel_plus:.2f}" + (f"; naive REL+ {main.naive.f1.rel_plus:.2f}" if main.naive else "")]
    lines += _backend_table(r)
    if r.train is not None:
        t = r.train
        lines += ["", f"Training ({t.ours.updates} updates of {t.ours.batch_size} sentences): "
                      f"{t.ours.rate.sentences_per_s:.1f} sentences/s"
                  + (f"; naive {t.naive.rate.sentences_per_s:.1f}, speed-up x{t.speedup_vs_naive:.2f}"
                     if t.naive is not None else "")]
    if r.lengths:
        lines += ["", "One sentence of N words (batch 1): time and peak memory above the loaded model",
                  f"{'words':>6}{'subwords':>9}{'ours ms':>10}{'naive ms':>10}{'ours MB':>10}{'naive MB':>10}"
                  f"{'MB ratio':>10}"]
        for row in r.lengths:
            nv = row.naive
            lines.append(f"{row.words:>6}{row.subwords:>9}{row.ours.ms:>10.1f}"
                         + (f"{nv.ms:>10.1f}" if nv else f"{'-':>10}") + f"{row.ours.peak_mb:>10.1f}"
                         + (f"{nv.peak_mb:>10.1f}{row.ours.peak_mb / max(nv.peak_mb, 1e-9):>10.3f}" if nv else ""))
    return "\n".join(lines)


def format_load_test(r: LoadTestResult) -> str:
    off = r.offline
    lines = [f"{r.sentences} sentences; offline {off.sentences_per_s_before:.1f} sent/s before, "
             f"{off.sentences_per_s_after:.1f} after; one sentence alone {off.single_sentence_p50_ms:.1f} ms "
             f"(p50); offline CPU {off.cpu_ms_per_sentence:.1f} ms/sentence",
             "clients  sent/s  vs offline  p50 ms  p95 ms  p99 ms  p50 vs one  server CPU ms/sent  failed  mismatched"]
    for lv in r.levels:
        cpu = "-" if lv.server_cpu_ms_per_sentence is None else \
            f"{lv.server_cpu_ms_per_sentence:.1f} ({r.cpu_vs_offline(lv):.2f}x)"
        lines.append(f"{lv.clients:>7}  {lv.sentences_per_s:6.1f}  {r.throughput_vs_offline(lv):10.2f}  "
                     f"{lv.p50_ms:6.1f}  {lv.p95_ms:6.1f}  {lv.p99_ms:6.1f}  "
                     f"{r.p50_vs_single_sentence(lv):10.2f}  {cpu:>18}  {lv.failed:6}  {lv.mismatched:10}")
    return "\n".join(lines)
