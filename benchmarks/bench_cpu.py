"""CPU settings: oneDNN on/off, intra/inter-op threads and jit_compile -- speed and reproducibility.

``mmlib.setup_notebook()`` sets ``TF_ENABLE_ONEDNN_OPTS=0`` and op determinism. This script measures
what that costs and whether oneDNN could be switched on without breaking the checked outputs.
Every configuration runs in a *fresh* Python process (TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS``
and oneDNN reads ``ONEDNN_MAX_CPU_ISA`` once, when they load; the thread pools are set with
``tf.config.threading`` before any op runs), with ``TF_CPP_MIN_LOG_LEVEL=3`` as in the notebooks.
Configurations: oneDNN off and on with TensorFlow's default thread pools (all cores for both,
i.e. intra 2 / inter 2 on a 2-core machine; oneDNN off is mmlib's setting), and
``jit_compile=True`` with oneDNN off and on; ``--full-grid`` adds the thread grid for oneDNN off:
intra / inter 1 / 1, 2 / 1 and an explicit 2 / 2 (about 2.5 minutes more). Two course workloads:

* **CNN**: ``av_digits`` (log-mel audio), ``image_cnn`` encoders on image and audio,
  ``EarlyFusion``, a 10-way head (:func:`mmlib.train.build_fusion_model`, seed 0), Adam(1e-3),
  ``model.fit`` on ``to_tf_dataset(batch_size=64).cache()``, trained on a seeded stratified 80 %
  split and evaluated on the other 20 %. Figure: seconds per epoch.
* **MLP**: the ``clinic`` diagnosis model of notebook 06 (``tabular_mlp`` encoders with 32 units,
  ``EarlyFusion``, ``Dense(32)``, 4-way head; Adam(3e-3), 18 batches of 64 per epoch, one
  ``steps_per_execution`` per epoch), where per-step overhead dominates. Figure: milliseconds
  per epoch (one timed run = ``--mlp-epochs`` epochs).

Timing: one warm-up epoch (tracing, compilation) is not counted; each figure is the median of
``--repeats`` timed runs with min--max, from the first process of the configuration; ratios are
to "oneDNN off, default threads" measured in the same invocation (> 1 = faster).

Reproducibility: each configuration runs a *second* fresh process; both hash (SHA-1) all model
weights after 3 epochs ("bit-identical run to run"), and the weights and test loss / accuracy are
compared with those of "oneDNN off, default threads". The ``jit_compile=True`` rows run with op
determinism OFF (Keras silently drops ``jit_compile`` under op determinism). The ISA column reruns
the default-thread configurations with ``ONEDNN_MAX_CPU_ISA=AVX`` (oneDNN JIT-selects its kernels
by the CPU's instruction set at run time; this caps it, as an older CPU would) and says whether
the weights change. Two tiny probe processes report TensorFlow's own oneDNN default on this CPU,
the ISA oneDNN dispatches to (``ONEDNN_VERBOSE=1``), and whether a notebook that calls
``mmlib.setup_notebook()`` with oneDNN on gets anything on stderr.

Run: ``python benchmarks/bench_cpu.py [--repeats 3] [--mlp-epochs 10] [--full-grid]
[--json out.json]`` (about 5--6 minutes on 2 quiet cores); ``--quick`` is a < 40 s smoke test
(tiny data, 1 repeat, oneDNN off/on only, one process each, run concurrently: its timings mean
nothing, run to run is not checked).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _stats import median_range  # benchmarks/_stats.py: the script's own folder

IMPORTED = "--- bench_cpu: tensorflow imported ---"  # child's stderr marker after the TF import
BANNER = "oneDNN custom operations"
ISA_CAP = "AVX"
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "2",
             "KERAS_BACKEND": "tensorflow"}


@dataclass(frozen=True)
class Config:
    """One CPU setting; each runs in fresh processes."""

    key: str
    label: str
    onednn: bool
    intra: int | None = None  # None: TensorFlow's default (all cores)
    inter: int | None = None
    jit: bool = False  # jit_compile=True with op determinism off

    def env(self, isa: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ONEDNN_", "DNNL_", "TF_ENABLE_ONEDNN"))}
        env.update(QUIET_ENV)
        env["TF_ENABLE_ONEDNN_OPTS"] = "1" if self.onednn else "0"
        if isa:
            env["ONEDNN_MAX_CPU_ISA"] = isa
        return env


def configs(quick: bool, full_grid: bool) -> list[Config]:
    out = [Config("off", "oneDNN off, default threads (mmlib)", False),
           Config("on", "oneDNN on, default threads", True)]
    if quick:
        return out
    if full_grid:  # the thread grid (oneDNN off only); ~2.5 min more
        out[1:1] = [Config("off_1_1", "oneDNN off, intra 1 / inter 1", False, 1, 1),
                    Config("off_2_1", "oneDNN off, intra 2 / inter 1", False, 2, 1),
                    Config("off_2_2", "oneDNN off, intra 2 / inter 2", False, 2, 2)]
    out += [Config("off_jit", "oneDNN off, jit_compile, no op determinism", False, jit=True),
            Config("on_jit", "oneDNN on, jit_compile, no op determinism", True, jit=True)]
    return out


# ---------------------------------------------------------------------------------------------
# child process: one configuration, both workloads


def _snapshot(model: Any, test: Any, tag: str, out: Path) -> dict[str, Any]:
    """SHA-1 of all weights, saved weights and test loss / accuracy of a trained model."""
    import numpy as np

    weights = [np.asarray(w) for w in model.get_weights()]
    sha = hashlib.sha1()
    for w in weights:
        sha.update(str(w.shape).encode())
        sha.update(np.ascontiguousarray(w).tobytes())
    path = out / f"{tag}.npz"
    np.savez(path, *weights)
    scores = model.evaluate(test, verbose=0, return_dict=True)
    acc = next(v for k, v in scores.items() if "accuracy" in k)
    return {"sha1": sha.hexdigest(), "weights": str(path), "test_loss": float(scores["loss"]),
            "test_accuracy": float(acc)}


def _cnn(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    import keras
    import numpy as np

    from mmlib import data, env, train

    ds = data.load("av_digits", seed=0, audio_features="log_mel")
    if spec["quick"]:
        ds = ds.subset(np.arange(200))
    tr, te = ds.split((0.8, 0.2), seed=0, stratify="digit")
    env.set_seed(0)
    model = train.build_fusion_model(tr, encoders={"image": "image_cnn", "audio": "image_cnn"},
                                     fusion="EarlyFusion", heads={"digit": 10}, seed=0)
    model.compile(keras.optimizers.Adam(1e-3),
                  {"digit": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  metrics={"digit": ["accuracy"]}, jit_compile=spec["jit"])
    train_data = tr.to_tf_dataset(batch_size=64, tasks=["digit"]).cache()
    test_data = te.to_tf_dataset(batch_size=256, tasks=["digit"]).cache()
    epochs, snap = [], {}
    for epoch in range(1, max(3, 1 + spec["repeats"]) + 1):
        start = time.perf_counter()
        model.fit(train_data, epochs=1, verbose=0, shuffle=False)
        epochs.append(time.perf_counter() - start)
        if epoch == 3:
            snap = _snapshot(model, test_data, f"{spec['tag']}_cnn", out)
    timed = epochs[1:1 + spec["repeats"]]
    return {"warmup_s": epochs[0], "epochs_s": timed, "all_epochs_s": epochs,
            "jit_compile": bool(model.jit_compile), "train_samples": len(tr), **snap}


def _mlp(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    import keras
    import numpy as np
    import tensorflow as tf

    from mmlib import data, env, train

    clinic = data.load("clinic", seed=0)
    if spec["quick"]:
        clinic = clinic.subset(np.arange(400))
    parts = clinic.split((0.6, 0.2, 0.2), seed=0, stratify="diagnosis")
    ehr_median = np.nanmedian(parts[0].modalities["ehr"], axis=0)

    def inputs(part: Any) -> dict[str, np.ndarray]:  # as in notebook 06
        scan = part.modalities["scan"].reshape(len(part), 12, 4, 12, 4).mean(axis=(2, 4))
        ehr = part.modalities["ehr"]
        missing = np.isnan(ehr)
        ehr = np.where(missing, ehr_median, ehr)
        return {"scan": scan.reshape(len(part), -1), "genes": part.modalities["genes"],
                "ehr": np.concatenate([np.sign(ehr) * np.log1p(np.abs(ehr)), missing], axis=1)}

    raw = [inputs(p) for p in parts]
    stats = {m: (v.mean(axis=0), v.std(axis=0) + 1e-6) for m, v in raw[0].items()}
    x = [{m: ((v - stats[m][0]) / stats[m][1]).astype("float32") for m, v in r.items()}
         for r in raw]
    y = [{"diagnosis": p.labels["diagnosis"]} for p in parts]
    steps = len(y[0]["diagnosis"]) // 64
    batches = (tf.data.Dataset.from_tensor_slices((x[0], y[0])).cache()
               .shuffle(4096, seed=0).batch(64, drop_remainder=True).repeat())
    test = tf.data.Dataset.from_tensor_slices((x[2], y[2])).batch(256)
    env.set_seed(0)
    model = train.build_fusion_model({m: (v.shape[1],) for m, v in x[0].items()},
                                     {m: ("tabular_mlp", {"hidden": (32,)}) for m in x[0]},
                                     "EarlyFusion", {"diagnosis": 4}, hidden=(32,), seed=0)
    model.compile(keras.optimizers.Adam(3e-3),
                  {"diagnosis": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  metrics={"diagnosis": ["accuracy"]}, steps_per_execution=steps,
                  jit_compile=spec["jit"])

    def fit(n: int) -> float:
        start = time.perf_counter()
        model.fit(batches, steps_per_epoch=steps, epochs=n, verbose=0, shuffle=False)
        return time.perf_counter() - start

    warmup = fit(1)
    fit(2)
    snap = _snapshot(model, test, f"{spec['tag']}_mlp", out)
    runs = [fit(spec["mlp_epochs"]) / spec["mlp_epochs"] for _ in range(spec["repeats"])]
    return {"warmup_s": warmup, "epochs_s": runs, "steps_per_epoch": steps,
            "jit_compile": bool(model.jit_compile), **snap}


def child(spec: dict[str, Any]) -> None:
    """Run both workloads under the settings in ``spec``; write a JSON result to spec['out']."""
    import tensorflow as tf

    print(IMPORTED, file=sys.stderr, flush=True)
    if spec["intra"] is not None:
        tf.config.threading.set_intra_op_parallelism_threads(spec["intra"])
    if spec["inter"] is not None:
        tf.config.threading.set_inter_op_parallelism_threads(spec["inter"])
    if not spec["jit"]:
        tf.config.experimental.enable_op_determinism()
    from tensorflow.python.util import _pywrap_util_port

    out = Path(spec["out"])
    result = {"onednn_enabled": bool(_pywrap_util_port.IsMklEnabled()),
              "cnn": _cnn(spec, out.parent), "mlp": _mlp(spec, out.parent)}
    out.write_text(json.dumps(result), encoding="utf-8")


PROBE = r"""
import os, sys
if os.environ.get("BENCH_CPU_NOTEBOOK"):
    import mmlib
    mmlib.setup_notebook(seed=0, quiet=True)
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
x = tf.ones((8, 28, 28, 1)); w = tf.ones((3, 3, 1, 4))
tf.nn.conv2d(x, w, 1, "SAME"); tf.matmul(tf.ones((64, 200)), tf.ones((200, 32)))
print("onednn_enabled", _pywrap_util_port.IsMklEnabled())
"""


def probe(env: dict[str, str]) -> dict[str, Any]:
    """A tiny process (one conv, one matmul) with ``ONEDNN_VERBOSE=1``: what oneDNN reports."""
    proc = subprocess.run([sys.executable, "-c", PROBE], env={**env, "ONEDNN_VERBOSE": "1"},
                          capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    isa = next((ln.split("isa:", 1)[1] for ln in lines if ",isa:" in ln), "n/a")
    impls = sorted({ln.split(",")[5] for ln in lines if ",primitive,exec,cpu," in ln})
    return {"onednn_enabled": "onednn_enabled True" in proc.stdout, "isa": isa.strip(),
            "primitives": impls, "stderr_lines": len(proc.stderr.splitlines()),
            "banner_on_stderr": BANNER in proc.stderr}


# ---------------------------------------------------------------------------------------------
# parent process


def run_child(config: Config, tag: str, repeats: int, args: argparse.Namespace, tmp: Path,
              isa: str | None = None) -> dict[str, Any]:
    spec = {"tag": tag, "out": str(tmp / f"{tag}.json"), "quick": args.quick,
            "repeats": repeats, "mlp_epochs": args.mlp_epochs, "intra": config.intra,
            "inter": config.inter, "jit": config.jit}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                          env=config.env(isa), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{tag} failed:\n{proc.stderr[-3000:]}")
    before, _, after = proc.stderr.partition(IMPORTED)
    result = json.loads(Path(spec["out"]).read_text(encoding="utf-8"))
    result.update(wall_s=time.perf_counter() - start, isa_cap=isa,
                  banner_at_import=BANNER in before, banner_later=BANNER in after,
                  stderr_after_import=[ln for ln in after.splitlines() if ln.strip()][:5])
    return result


def fmt(values: list[float], scale: float = 1.0, digits: int = 2, unit: str = "s") -> str:
    if not values:
        return "—"
    return median_range([x * scale for x in values], digits, unit=unit)


def max_weight_diff(a: str, b: str) -> float:
    import numpy as np

    with np.load(a) as wa, np.load(b) as wb:
        return max(float(np.max(np.abs(wa[k] - wb[k]))) if wa[k].size else 0.0 for k in wa.files)


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Bit-identical weights? Else max |Δweight|, |Δtest accuracy|, |Δtest loss|."""
    same = a["sha1"] == b["sha1"]
    return {"identical": same, "max_abs_weight": 0.0 if same else
            max_weight_diff(a["weights"], b["weights"]),
            "abs_accuracy": abs(a["test_accuracy"] - b["test_accuracy"]),
            "abs_loss": abs(a["test_loss"] - b["test_loss"])}


def describe(c: dict[str, Any], full: bool = False) -> str:
    if c["identical"]:
        return "yes"
    text = f"no, max|Δw| {c['max_abs_weight']:.1e}"
    if full:
        text += f", |Δacc| {c['abs_accuracy']:.4f}, |Δloss| {c['abs_loss']:.1e}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (≥ 1)")
    parser.add_argument("--mlp-epochs", type=int, default=10, help="epochs per timed MLP run")
    parser.add_argument("--full-grid", action="store_true",
                        help="also run oneDNN off with intra/inter 1/1, 2/1, 2/2 (~2.5 min more)")
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny, 1 repeat, < 40 s")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if args.quick:
        args.repeats, args.mlp_epochs = 1, 2
    started = time.perf_counter()
    grid = configs(args.quick, args.full_grid)
    flags = Path("/proc/cpuinfo").read_text(encoding="utf-8").split("flags", 1)[-1]
    flags = set(flags.split("\n", 1)[0].strip(" :").split())
    simd = [f for f in ("sse4_2", "avx", "fma", "avx2", "avx512f", "avx512_vnni", "avx512_bf16",
                        "avx_vnni", "amx_tile") if f in flags]
    print(f"CPU: {os.cpu_count()} cores, SIMD flags {' '.join(simd)}; configurations "
          f"{len(grid)}, each in 2 fresh processes; repeats {args.repeats}\n", flush=True)

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        jobs: list[tuple[str, Config, int, str | None]] = []
        for c in grid:
            jobs.append((f"{c.key}_a", c, args.repeats, None))
            if not args.quick:  # --quick: no second process, run to run is not checked
                jobs.append((f"{c.key}_b", c, 0, None))
        if not args.quick:
            jobs += [(f"{c.key}_isa", c, 0, ISA_CAP) for c in grid if c.key in ("off", "on")]
        with ThreadPoolExecutor(max_workers=2 if args.quick else 1) as pool:
            futures = {tag: pool.submit(run_child, c, tag, r, args, tmp, isa)
                       for tag, c, r, isa in jobs}
            res = {tag: f.result() for tag, f in futures.items()}
            probes: dict[str, Any] = {}
            if not args.quick:
                unset = Config("x", "", False).env()
                del unset["TF_ENABLE_ONEDNN_OPTS"]  # TensorFlow's own choice for this CPU
                probes["tf_default"] = probe(unset)
                probes["notebook_on_avx"] = probe({**Config("x", "", True).env(ISA_CAP),
                                                   "BENCH_CPU_NOTEBOOK": "1"})
        rows, raw = [], {"configs": {}, "probes": probes, "cpu_simd_flags": simd}
        base = {w: statistics.median(res["off_a"][w]["epochs_s"]) for w in ("cnn", "mlp")}
        for c in grid:
            a, b = res[f"{c.key}_a"], res.get(f"{c.key}_b", res[f"{c.key}_a"])
            entry: dict[str, Any] = {"label": c.label, "run_a": a, "run_b": b}
            cells = [c.label]
            for w, scale, digits, unit in (("cnn", 1.0, 2, "s"), ("mlp", 1000.0, 0, "ms")):
                med = statistics.median(a[w]["epochs_s"])
                entry[f"{w}_ratio"] = base[w] / med
                cells += [fmt(a[w]["epochs_s"], scale, digits, unit), f"{base[w] / med:.2f}×"]
            entry["run_to_run"] = ({w: compare(a[w], b[w]) for w in ("cnn", "mlp")}
                                   if f"{c.key}_b" in res else None)
            entry["vs_off"] = {w: compare(a[w], res["off_a"][w]) for w in ("cnn", "mlp")}
            cells.append("n/a (--quick)" if f"{c.key}_b" not in res else " · ".join(
                f"{w.upper()} {describe(entry['run_to_run'][w])}" for w in ("cnn", "mlp")))
            cells.append("(reference)" if c.key == "off" else " · ".join(
                f"{w.upper()} {describe(entry['vs_off'][w], True)}" for w in ("cnn", "mlp")))
            if f"{c.key}_isa" in res:
                entry["isa_cap"] = {w: compare(a[w], res[f"{c.key}_isa"][w])
                                    for w in ("cnn", "mlp")}
                cells.append(" · ".join(f"{w.upper()} {describe(entry['isa_cap'][w], True)}"
                                        for w in ("cnn", "mlp")))
            else:
                cells.append("—")
            banner = ("at import" if a["banner_at_import"] else "") + (
                " and later" if a["banner_later"] else "")
            cells.append(f"yes ({banner.strip()})" if banner else "no")
            jit_note = "" if a["cnn"]["jit_compile"] == c.jit else " (jit dropped!)"
            cells[0] += jit_note
            rows.append(cells)
            raw["configs"][c.key] = entry
        raw["isa_runs"] = {k: v for k, v in res.items() if k.endswith("_isa")}

    columns = ["configuration", "CNN epoch", "CNN × off", "MLP epoch", "MLP × off",
               "bit-identical run to run", "same numbers as oneDNN off (3 epochs)",
               f"same with ONEDNN_MAX_CPU_ISA={ISA_CAP}", "oneDNN banner on stderr (log level 3)"]
    elapsed = time.perf_counter() - started
    raw["elapsed_s"] = elapsed
    verdict = make_verdict(grid, raw, simd)
    widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
    for r in [columns, *rows]:
        print(" | ".join(str(x).ljust(wd) for x, wd in zip(r, widths, strict=True)))
    for name, p in probes.items():
        print(f"probe {name}: {p}")
    print(f"\n{verdict}\n\ntotal {elapsed:.0f} s")
    if args.json:
        doc = {"benchmark": "cpu", "title": "CPU settings: oneDNN, threads, jit_compile",
               "description": (
                   "Epoch time of the course fusion CNN (`av_digits`) and of notebook 06's "
                   "`clinic` MLP under oneDNN off/on, thread-pool sizes and `jit_compile` "
                   "(each configuration in fresh processes, median (min–max) of "
                   f"{args.repeats} timed runs after a warm-up epoch, ratio to oneDNN off with "
                   "default threads from the same run), and whether the weights after 3 epochs "
                   "are bit-identical in a second process, equal to the oneDNN-off numbers, and "
                   f"unchanged when oneDNN is capped at ISA {ISA_CAP}."),
               "columns": columns, "rows": rows,
               "goal": ("Fastest CPU defaults whose stored outputs stay clean and whose "
                        "checked outputs reproduce; take oneDNN's ~1.4× if it can be made "
                        "reproducible."),
               "verdict": verdict, "figures": [], "raw": raw}
        Path(args.json).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")


def make_verdict(grid: list[Config], raw: dict[str, Any], simd: list[str]) -> str:
    cfg = raw["configs"]
    parts = []
    for w, name in (("cnn", "CNN"), ("mlp", "MLP")):
        best = max(grid, key=lambda c: cfg[c.key][f"{w}_ratio"])
        parts.append(f"fastest for the {name}: {best.label} ({cfg[best.key][f'{w}_ratio']:.2f}× "
                     "oneDNN off)")
    on = cfg["on"]
    text = ("; ".join(parts) + f". oneDNN on (default threads) vs off: {on['cnn_ratio']:.2f}× on "
            f"the CNN, {on['mlp_ratio']:.2f}× on the MLP (same run). ")
    r2r = bool(on["run_to_run"]) and all(on["run_to_run"][w]["identical"] for w in ("cnn", "mlp"))
    same = all(on["vs_off"][w]["identical"] for w in ("cnn", "mlp"))
    rtr = ("(not checked with --quick)" if not on["run_to_run"] else "bit-identical" if r2r
           else "NOT bit-identical")
    text += (f"oneDNN on is {rtr} run to run, "
             f"{'equal to' if same else 'different from'} the oneDNN-off numbers (CNN "
             f"{describe(on['vs_off']['cnn'], True)}; MLP {describe(on['vs_off']['mlp'], True)})")
    isa = {k: cfg[k].get("isa_cap") for k in ("off", "on")}
    if all(isa.values()):
        def word(k: str) -> str:
            changed = [w.upper() for w in ("cnn", "mlp") if not isa[k][w]["identical"]]
            return f"changes the {' and '.join(changed)} weights" if changed else "changes nothing"
        native = "AVX-512" if "avx512f" in simd else "AVX2" if "avx2" in simd else "AVX"
        text += (f"; capping oneDNN at {ISA_CAP} (this CPU: {native}) {word('on')} with oneDNN "
                 f"on and {word('off')} with oneDNN off")
    text += ". "
    threads = [c for c in grid if not c.onednn and not c.jit and c.key != "off"]
    moved = [c.label for c in threads if not all(
        cfg[c.key]["vs_off"][w]["identical"] for w in ("cnn", "mlp"))]
    if moved:
        text += (f"oneDNN off is not thread-count-proof either: {'; '.join(moved)} gives other "
                 "weights than TensorFlow's default pools, so bits already differ on machines "
                 "with another core count. ")
    probes = raw["probes"]
    if probes:
        default, nb = probes["tf_default"], probes["notebook_on_avx"]
        text += (f"Left alone, TensorFlow {'enables' if default['onednn_enabled'] else 'disables'} "
                 "oneDNN on this CPU (it switches it on by itself only on CPUs with AVX-512 "
                 f"VNNI/BF16, AVX-VNNI or AMX); oneDNN dispatches to ISA '{default['isa']}' here, "
                 "and in that default process oneDNN still ran these primitives (its JIT gemm "
                 f"behind Eigen's matmul): {', '.join(default['primitives']) or 'none'}. "
                 "With oneDNN on, TensorFlow's banner "
                 + ("is printed during `import tensorflow` despite log level 3"
                    if on["run_a"]["banner_at_import"] else "is not printed at log level 3")
                 + ("" if not on["run_a"]["banner_later"] else " and again later")
                 + f"; with `setup_notebook()` the probe's stderr has {nb['stderr_lines']} lines"
                 + f" ({'with' if nb['banner_on_stderr'] else 'no'} banner). ")
    if on["run_to_run"] and r2r and on["cnn_ratio"] >= 1.2:
        text += ("So oneDNN on is as reproducible on one machine as oneDNN off; switching "
                 "changes every stored CNN result once (the decision is in docs/benchmarks.md).")
    return text


if __name__ == "__main__":
    main()
