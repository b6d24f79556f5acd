"""``relaytts export``: checkpoints -> a validated bundle directory.

Every graph is exported in fp32 and checked against the PyTorch reference on random inputs of
several lengths (1, typical and long); an fp32 graph that misses the 1e-4 bound stops the export.
With ``bert_dir`` the optional ``bert`` graph (Chinese RoBERTa features, checked against
transformers) is added, with its vocabulary as ``bert_vocab.txt`` beside it; with ``hubert_dir`` the
optional ``hubert`` graph (chinese-hubert-base features for voice registration, checked against
transformers at several clip lengths); with ``g2pw_dir`` upstream's G2PW polyphone model for Chinese (copied
with its tables, see ``exporter.onnx.g2pw_export``); with ``sv_path`` (v2Pro / v2ProPlus only) the ``sv`` graph
(ERes2NetV2 speaker embedding, checked against the PyTorch reimplementation on 1-15 s clips), without
which a Pro bundle cannot compute a style vector.
Reduced-precision variants are always written, measured against fp32 and marked validated or not,
with the reason, so a user can still try one that failed a check.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bundle.manifest import MANIFEST_NAME, GraphFile, Manifest, Precision, Role, sha256_file
from bundle.session import create_session
from exporter.checkpoint_io import read_checkpoint
from exporter.onnx import bert_export, g2pw_export, hubert_export, sovits_export, sv_export, t2s_export
from exporter.onnx.bundle_readme import bundle_readme
from exporter.onnx.variants import to_fp16, to_int8, to_int8_static
from exporter.sovits import load_sovits
from exporter.t2s import load_t2s
from relaytts.errors import InvalidArgument, RelayError

__all__ = ["ExportError", "ParityRow", "export_bundle"]

FP32_TOLERANCE = 1e-4
GREEDY_STEPS = 200
FILE_NAMES = {Role.T2S: "t2s", Role.PROMPT_EXTRACTOR: "prompt_extractor", Role.STYLE_ENCODER: "style_encoder",
              Role.VOCODER: "vocoder", Role.BERT: "bert", Role.HUBERT: "hubert", Role.G2PW: "g2pw",
              Role.SV: "sv"}
#: Which variants are made for which graph (int8: dynamic for the weight-bound T2S, static QDQ for the
#: convolution-bound vocoder; see exporter.onnx.variants). The sv graph gets an fp16 variant (validated only at
#: cosine >= 0.999) and no int8 one: ERes2NetV2 is all convolutions with a wide dynamic range (see docs/bundle.md).
VARIANT_ROLES = {Precision.FP16: (Role.T2S, Role.VOCODER, Role.SV), Precision.INT8: (Role.T2S, Role.VOCODER)}
SV_FILE_HINT = "pretrained_eres2netv2w24s4ep4.ckpt"
"""The file name upstream ships the speaker-verification net under (GPT_SoVITS/pretrained_models/sv/)."""


class ExportError(RelayError):
    reason = "export_failed"


@dataclass(frozen=True)
class ParityRow:
    """One line of the parity table printed at the end of an export."""

    graph: str
    precision: str
    metric: str
    value: float
    limit: str
    ok: bool


def file_name(role: Role, precision: Precision) -> str:
    suffix = "" if precision is Precision.FP32 else f".{precision.value}"
    return f"{FILE_NAMES[role]}{suffix}.onnx"


def export_bundle(
    gpt: str | Path,
    sovits: str | Path,
    out: str | Path,
    precisions: Sequence[Precision] = (Precision.FP32,),
    *,
    force: bool = False,
    on_step: Callable[[str], None] | None = None,
    bert_dir: str | Path | None = None,
    hubert_dir: str | Path | None = None,
    g2pw_dir: str | Path | None = None,
    sv_path: str | Path | None = None,
) -> tuple[Manifest, list[ParityRow]]:
    """Export ``gpt`` + ``sovits`` checkpoints into ``out``; returns the manifest and the parity table.

    ``bert_dir``: a local chinese-roberta-wwm-ext-large folder (Hugging Face format) to add the
    optional ``bert`` graph from; fp32 only, listed in the manifest like every graph, with its
    vocabulary file named by the graph's metadata (see ``exporter.onnx.bert_export``).
    ``hubert_dir``: a local chinese-hubert-base folder (Hugging Face ``HubertModel``) to add the optional
    ``hubert`` graph from (fp32 only; see ``exporter.onnx.hubert_export``); voice registration needs it.
    ``g2pw_dir``: the ``G2PWModel`` folder of a GPT-SoVITS install, to add the optional ``g2pw`` graph and its
    tables (see ``exporter.onnx.g2pw_export``); the Chinese frontend then reads polyphones as upstream's
    default does. Its tokenizer vocabulary is taken from ``bert_dir`` when given.
    ``sv_path``: upstream's ERes2NetV2 checkpoint (``pretrained_eres2netv2w24s4ep4.ckpt``) to add the ``sv``
    graph from; only for v2Pro / v2ProPlus SoVITS files, whose style vectors need it.

    The bundle is built in a sibling temporary directory and moved into place only when complete,
    so a failed or interrupted export never leaves a half bundle behind.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise InvalidArgument(f"{out}: already exists and is not empty; choose another -o or pass --force")
    say = on_step or (lambda _msg: None)
    build = out.with_name(f".{out.name}.partial")
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    try:
        manifest, rows = _export_into(Path(gpt), Path(sovits), build, tuple(dict.fromkeys(precisions)), say,
                                      Path(bert_dir) if bert_dir is not None else None,
                                      Path(hubert_dir) if hubert_dir is not None else None,
                                      Path(g2pw_dir) if g2pw_dir is not None else None,
                                      Path(sv_path) if sv_path is not None else None)
        (build / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
        (build / "README.md").write_text(bundle_readme(manifest), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        build.rename(out)
        return manifest, rows
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _export_into(gpt: Path, sovits_path: Path, build: Path, precisions: tuple[Precision, ...],
                 say: Callable[[str], None], bert_dir: Path | None = None,
                 hubert_dir: Path | None = None, g2pw_dir: Path | None = None,
                 sv_path: Path | None = None) -> tuple[Manifest, list[ParityRow]]:
    import onnxruntime

    say("loading checkpoints")
    gpt_raw, sovits_raw = read_checkpoint(gpt), read_checkpoint(sovits_path)
    t2s = load_t2s(gpt_raw)
    sovits = load_sovits(sovits_raw)
    if t2s.config.phoneme_vocab_size != sovits.config.n_symbols:
        raise InvalidArgument(
            f"{gpt} and {sovits_path} use different phoneme tables "
            f"({t2s.config.phoneme_vocab_size} vs {sovits.config.n_symbols} symbols)"
        )
    bert = None
    if bert_dir is not None:
        say("loading BERT")
        bert = bert_export.load_bert(bert_dir)
    hubert = None
    if hubert_dir is not None:
        say("loading HuBERT")
        hubert = hubert_export.load_hubert(hubert_dir)
    g2pw = None
    if g2pw_dir is not None:
        say("loading G2PW")
        g2pw = g2pw_export.load_g2pw(g2pw_dir, vocab_dir=bert_dir)
    sv = _load_sv_for(sovits, sovits_path, sv_path, say)
    rows: list[ParityRow] = []
    files: list[GraphFile] = []
    fp32_paths: dict[Role, Path] = {}

    graphs = [
        (Role.T2S, lambda p: t2s_export.export_t2s(t2s, p), lambda s: _t2s_fp32_parity(t2s, s)),
        (
            Role.PROMPT_EXTRACTOR,
            lambda p: sovits_export.export_prompt_extractor(sovits, p),
            lambda s: sovits_export.prompt_extractor_parity(sovits, s),
        ),
        (
            Role.STYLE_ENCODER,
            lambda p: sovits_export.export_style_encoder(sovits, p),
            lambda s: sovits_export.style_encoder_parity(sovits, s),
        ),
        (
            Role.VOCODER,
            lambda p: sovits_export.export_vocoder(sovits, p),
            lambda s: sovits_export.vocoder_parity(sovits, s),
        ),
    ]
    if bert is not None:
        graphs.append(
            (Role.BERT, lambda p: bert_export.export_bert_graph(bert, p), lambda s: bert_export.bert_parity(bert, s))
        )
    if hubert is not None:
        graphs.append((Role.HUBERT, lambda p: hubert_export.export_hubert_graph(hubert, p),
                       lambda s: hubert_export.hubert_parity(hubert, s)))
    if g2pw is not None:
        graphs.append((Role.G2PW, lambda p: g2pw_export.export_g2pw_graph(g2pw, p),
                       lambda s: g2pw_export.g2pw_parity(g2pw, s)))
    if sv is not None:
        graphs.append((Role.SV, lambda p: sv_export.export_sv_graph(sv, p), lambda s: sv_export.sv_parity(sv, s)))

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        for role, export, check in graphs:
            say(f"exporting {role.value} (fp32)")
            path = export(build / file_name(role, Precision.FP32))
            say(f"checking {role.value} (fp32) against PyTorch")
            parity = check(create_session(path))
            failures = [k for k, v in parity.items() if k.endswith("max_abs") and v > FP32_TOLERANCE]
            failures += [k for k, v in parity.items() if k.endswith("agreement") and v < 1.0]
            for key, value in parity.items():
                limit = (
                    f"<= {FP32_TOLERANCE:g}"
                    if key.endswith("max_abs")
                    else ("= 1" if key.endswith("agreement") else "")
                )
                rows.append(ParityRow(role.value, "fp32", key, value, limit, key not in failures))
            if failures:
                raise ExportError(
                    f"{role.value} fp32 graph does not match PyTorch: "
                    + ", ".join(f"{k}={parity[k]:.3g}" for k in failures)
                )
            fp32_paths[role] = path
            files.append(_graph_file(build, path, role, Precision.FP32, parity, validated=True))

        for precision in precisions:
            if precision is Precision.FP32:
                continue
            for role in VARIANT_ROLES[precision]:
                if role not in fp32_paths:  # an optional graph this bundle does not have
                    continue
                say(f"making {role.value} ({precision.value})")
                path = build / file_name(role, precision)
                if precision is Precision.FP16:
                    to_fp16(fp32_paths[role], path)
                elif role is Role.VOCODER:
                    to_int8_static(fp32_paths[role], path, sovits_export.vocoder_calibration(sovits))
                else:
                    to_int8(fp32_paths[role], path)
                say(f"measuring {role.value} ({precision.value}) against fp32")
                if role is Role.T2S:
                    parity, problem = _t2s_variant_report(t2s, fp32_paths[role], path)
                elif role is Role.SV:
                    parity, problem = sv_export.sv_variant_report(fp32_paths[role], path)
                else:
                    parity, problem = sovits_export.vocoder_variant_report(sovits, fp32_paths[role], path)
                for key, value in parity.items():
                    rows.append(ParityRow(role.value, precision.value, key, value, "", problem is None))
                files.append(
                    _graph_file(build, path, role, precision, parity, validated=problem is None, note=problem or "")
                )

    manifest = Manifest(
        model_version=sovits.config.version,
        t2s={
            "num_layers": t2s.config.num_layers,
            "hidden_dim": t2s.config.hidden_dim,
            "num_heads": t2s.config.num_heads,
            "vocab_size": t2s.config.vocab_size,
            "eos": t2s.config.eos,
            "phoneme_vocab_size": t2s.config.phoneme_vocab_size,
            "max_sec": t2s.config.max_sec,
            "batched": 1,  # the graph takes per-row cache lengths (past_len): continuous batching can use it
        },
        sovits=sovits_export.manifest_sizes(sovits),
        files=files,
        symbol_table="v2",
        onnxruntime_version=onnxruntime.__version__,
        sources={
            "gpt": {"file": gpt.name, "sha256": sha256_file(gpt), "info": gpt_raw.info},
            "sovits": {"file": sovits_path.name, "sha256": sha256_file(sovits_path), "info": sovits_raw.info},
        } | {name: extra.source() for name, extra in (("bert", bert), ("hubert", hubert), ("g2pw", g2pw), ("sv", sv))
             if extra is not None},
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    return manifest, rows


def _load_sv_for(sovits, sovits_path: Path, sv_path: Path | None, say: Callable[[str], None]):  # noqa: ANN001
    """The ERes2NetV2 for a Pro SoVITS file (None without ``--sv``); refused for v2, or when its size disagrees."""
    version = sovits.config.version
    if sv_path is None:
        if sovits.config.is_pro:
            say(f"note: {sovits_path.name} is {version}; without --sv {SV_FILE_HINT} the bundle cannot register "
                "voices (its style vectors need the speaker embedding)")
        return None
    if not sovits.config.is_pro:
        raise InvalidArgument(f"--sv {sv_path}: {sovits_path} is SoVITS {version}, which has no speaker-verification "
                              "branch; --sv is only for v2Pro / v2ProPlus")
    say("loading the speaker-verification net")
    sv = sv_export.load_sv_model(sv_path)
    if sv.model.config.embedding_dim != sovits.config.sv_dim:
        raise InvalidArgument(f"--sv {sv_path}: gives {sv.model.config.embedding_dim}-d embeddings; {sovits_path} "
                              f"reads {sovits.config.sv_dim}")
    return sv


def _graph_file(build: Path, path: Path, role: Role, precision: Precision, parity: dict[str, float],
                validated: bool, note: str = "") -> GraphFile:
    return GraphFile(role=role, precision=precision, path=path.name, sha256=sha256_file(path),
                     size_bytes=path.stat().st_size, validated=validated, parity=parity, note=note)


def _t2s_fp32_parity(t2s, session) -> dict[str, float]:
    parity = t2s_export.t2s_parity(t2s, session)
    cfg = t2s.config
    parity |= t2s_export.t2s_batch_parity(session, cfg.num_layers, cfg.hidden_dim, cfg.vocab_size)
    phones, bert, prompt = t2s_export.random_prompt(t2s, text_len=24, prompt_len=30, seed=1)
    reference = t2s_export.torch_greedy(t2s, phones, bert, prompt, GREEDY_STEPS, stop_at_eos=False)
    got = t2s_export.ort_greedy(
        session, cfg.num_layers, cfg.hidden_dim, cfg.eos, phones, bert, prompt, GREEDY_STEPS, stop_at_eos=False
    )
    parity["greedy_200_agreement"] = float(reference == got)
    return parity


def _t2s_variant_report(t2s, fp32_path: Path, variant_path: Path) -> tuple[dict[str, float], str | None]:
    """Error vs fp32, greedy agreement, EOS behaviour, size and per-step speed of a T2S variant."""
    cfg = t2s.config
    base, variant = create_session(fp32_path), create_session(variant_path)
    names, _ = t2s_export.t2s_io_names(cfg.num_layers)
    graph = t2s_export.T2SGraph(t2s)
    torch.manual_seed(3)
    errors, peak = [], 0.0
    for shape in t2s_export.PARITY_SHAPES:
        feeds = {n: t.numpy() for n, t in zip(names, graph.example_inputs(*shape), strict=True)}
        want, got = base.run(["logits"], feeds)[0], variant.run(["logits"], feeds)[0]
        errors.append(np.abs(got - want))
        peak = max(peak, float(np.abs(want).max()))
    err = np.concatenate([e.ravel() for e in errors])
    phones, bert, prompt = t2s_export.random_prompt(t2s, text_len=24, prompt_len=30, seed=1)

    def run(session, stop_at_eos: bool) -> tuple[list[int], float]:
        start = time.perf_counter()
        tokens = t2s_export.ort_greedy(
            session, cfg.num_layers, cfg.hidden_dim, cfg.eos, phones, bert, prompt, GREEDY_STEPS, stop_at_eos
        )
        return tokens, (time.perf_counter() - start) * 1000 / max(len(tokens), 1)

    base_tokens, base_ms = run(base, False)
    var_tokens, var_ms = run(variant, False)
    divergence = next((i for i, (a, b) in enumerate(zip(base_tokens, var_tokens, strict=True)) if a != b), GREEDY_STEPS)
    base_len, var_len = len(run(base, True)[0]), len(run(variant, True)[0])
    parity = {
        "logits_max_abs": float(err.max()),
        "logits_mean_abs": float(err.mean()),
        "logits_max_rel_to_peak": float(err.max() / max(peak, 1e-9)),
        "greedy_first_divergence_step": float(divergence),
        "greedy_eos_length_fp32": float(base_len),
        "greedy_eos_length": float(var_len),
        "size_ratio_to_fp32": variant_path.stat().st_size / fp32_path.stat().st_size,
        "ms_per_step": var_ms,
        "speed_ratio_to_fp32": var_ms / base_ms,
    }
    problem = None
    if var_len < 0.8 * base_len:
        problem = f"early EOS: greedy run ends after {var_len} tokens where fp32 gives {base_len}"
    elif parity["logits_max_rel_to_peak"] > 0.1:
        problem = f"logits error {parity['logits_max_rel_to_peak']:.2f} of peak (> 0.1)"
    return parity, problem
