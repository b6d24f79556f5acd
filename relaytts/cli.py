"""The ``relaytts`` command line: thin subcommands over the packages.

Each subcommand imports what it needs inside its body, so ``relaytts --help`` stays fast and the
runtime commands never pull in torch. Expected failures (``RelayError``) print as one line on
stderr with exit status 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from relaytts.errors import RelayError

F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(func: F) -> F:
    """Turn a ``RelayError`` into ``error: <message>`` and exit status 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RelayError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="relaytts")
def main() -> None:
    """relaytts: serve GPT-SoVITS voices across cloud and edge."""


@main.command()
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(path_type=Path))
@one_line_errors
def inspect(checkpoints: tuple[Path, ...]) -> None:
    """Identify GPT-SoVITS checkpoint files: kind, version, architecture, parameters, load time."""
    from exporter.inspect import describe_checkpoint
    from relaytts.console import print_table

    rows = [describe_checkpoint(path).as_row() for path in checkpoints]
    print_table(["file", "kind", "version", "architecture", "parameters", "load s"], rows)


def _precisions(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [n for n in names if n not in ("fp32", "fp16", "int8")]
    if bad or "fp32" not in names:
        raise click.BadParameter(f"a comma list of fp32, fp16, int8 that includes fp32; given {value!r}")
    return names


@main.command()
@click.option("--gpt", "gpt", required=True, type=click.Path(path_type=Path), help="GPT (T2S) .ckpt file.")
@click.option("--sovits", "sovits", required=True, type=click.Path(path_type=Path), help="SoVITS .pth file.")
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="Bundle directory to write.")
@click.option("--precision", default="fp32", callback=_precisions, show_default=True,
              help="Comma list of variants to write: fp32 (always), fp16 (GPUs), int8 (T2S on CPUs).")
@click.option("--force", is_flag=True, help="Replace an existing bundle directory.")
@click.option("--bert", "bert_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Local chinese-roberta-wwm-ext-large folder: adds the optional `bert` graph (Chinese features).")
@one_line_errors
def export(gpt: Path, sovits: Path, out: Path, precision: tuple[str, ...], force: bool, bert_dir: Path | None) -> None:
    """Convert GPT-SoVITS checkpoints into a validated ONNX bundle."""
    from bundle.manifest import Precision
    from exporter.onnx.bundle_export import VARIANT_ROLES, export_bundle
    from relaytts.console import print_table, progress

    precisions = [Precision(p) for p in precision]
    steps = 1 + 4 * 2 + sum(2 * len(VARIANT_ROLES[p]) for p in precisions if p is not Precision.FP32)
    steps += 3 if bert_dir is not None else 0  # load, export, check
    with progress() as bar:
        task = bar.add_task("export", total=steps)
        started = []

        def on_step(message: str) -> None:  # a step starting means the one before it finished
            bar.update(task, description=message, completed=len(started))
            started.append(message)

        manifest, rows = export_bundle(gpt, sovits, out, precisions, force=force, on_step=on_step, bert_dir=bert_dir)
        bar.update(task, completed=steps, description="done")
    print_table(["graph", "precision", "metric", "value", "limit", "ok"],
                [[r.graph, r.precision, r.metric, r.value, r.limit, "yes" if r.ok else "NO"] for r in rows],
                title=f"parity ({manifest.model_version}, onnxruntime {manifest.onnxruntime_version})")
    for entry in manifest.files:
        if not entry.validated:
            click.echo(f"note: {entry.path} is written but not validated: {entry.note}", err=True)
    click.echo(f"bundle {manifest.bundle_id} written to {out}")


@main.command()
@click.option("--bundle", "bundle_dir", required=True, type=click.Path(path_type=Path), help="Bundle directory.")
@click.option("--text", help="What to say (through the text frontend).")
@click.option("--phones", help="Or: phoneme symbols/ids separated by spaces, spoken as one segment.")
@click.option("--lang", default="auto", show_default=True, type=click.Choice(["auto", "zh", "en", "ja"]))
@click.option("--ref-audio", type=click.Path(path_type=Path), help="Style reference recording (default: a tone).")
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="WAV file to write.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--top-k", type=int, default=15, show_default=True)
@click.option("--top-p", type=float, default=1.0, show_default=True)
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.option("--repetition-penalty", type=float, default=1.35, show_default=True)
@click.option("--noise-scale", type=float, default=0.5, show_default=True)
@click.option("--max-tokens", type=int, default=None, help="Per-segment token cap (default: 50 + 10 per phone).")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True,
              help="T2S graph variant.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--threads", type=int, default=0, show_default=True, help="Threads per graph (0 = ORT's choice).")
@one_line_errors
def synth(bundle_dir: Path, text: str | None, phones: str | None, lang: str, ref_audio: Path | None, out: Path,
          seed: int, top_k: int, top_p: float, temperature: float, repetition_penalty: float, noise_scale: float,
          max_tokens: int | None, precision: str, device: str, threads: int) -> None:
    """Speak TEXT with both engines in this process (no Redis, no network); writes a WAV file."""
    import numpy as np
    import soundfile

    from relaytts.local import LocalSynthesizer, SynthesisReport
    from relaytts.sampling import SamplingParams

    params = SamplingParams(top_k=top_k, top_p=top_p, temperature=temperature,
                            repetition_penalty=repetition_penalty, seed=seed).validate()
    if (text is None) == (phones is None):
        raise click.UsageError("give exactly one of --text and --phones")
    synthesizer = LocalSynthesizer(bundle_dir, precision, threads, device)
    ge = synthesizer.reference_style(ref_audio)
    report = SynthesisReport()
    pieces = (synthesizer.synthesize(text, ge, lang, params, noise_scale, max_tokens, report) if text is not None
              else synthesizer.synthesize_phones(phones, ge, params, noise_scale, max_tokens, report))
    audio = np.concatenate(list(pieces))
    soundfile.write(str(out), audio, synthesizer.bundle.manifest.sample_rate, subtype="PCM_16")
    click.echo(f"wrote {out}: {report.audio:.2f} s of audio, {report.segments} segment(s), {report.tokens} tokens "
               f"({', '.join(report.stop_reasons)})")
    click.echo(f"time to first audio {report.first_audio * 1000:.0f} ms, "
               f"real-time factor {report.real_time_factor:.2f} "
               f"(frontend {report.frontend * 1000:.0f} ms, t2s {report.t2s * 1000:.0f} ms, "
               f"vocoder {report.vocoder * 1000:.0f} ms)")


@main.group(name="bundle")
def bundle_group() -> None:
    """Check bundles and cut the edge subset."""


@bundle_group.command(name="verify")
@click.argument("directory", type=click.Path(path_type=Path))
@one_line_errors
def bundle_verify(directory: Path) -> None:
    """Check that every graph of a bundle is present and intact (sha256)."""
    from bundle import Bundle
    from relaytts.console import print_table

    opened = Bundle.open(directory)
    print_table(["file", "role", "side", "precision", "MB", "validated"],
                [[f.path, f.role.value, f.side, f.precision.value, round(f.size_bytes / 1e6, 1),
                  "yes" if f.validated else f"no: {f.note}"] for f in opened.manifest.files],
                title=f"bundle {opened.manifest.bundle_id} ({opened.manifest.model_version})")


@bundle_group.command(name="edge")
@click.argument("directory", type=click.Path(path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@one_line_errors
def bundle_edge(directory: Path, dest: Path) -> None:
    """Copy the edge subset (vocoder graphs + manifest) of a bundle to DEST for a device."""
    from bundle import Bundle, write_edge_subset

    write_edge_subset(Bundle.open(directory), dest)
    click.echo(f"edge bundle written to {dest}")


@main.group()
def bench() -> None:
    """Benchmarks that print a table of ratios against a reference run in the same command."""


_VERSION_OPTION = click.option("--version", "version", default="v2", show_default=True,
                               type=click.Choice(["v2", "v2Pro", "v2ProPlus"]), help="SoVITS preset to build.")


@bench.command(name="model")
@_VERSION_OPTION
@one_line_errors
def bench_model_command(version: str) -> None:
    """Full-size random weights: load time and peak memory vs a plain torch.load, reference speed."""
    from exporter.bench import bench_model
    from relaytts.console import print_table

    print_table(["phase", "seconds", "peak MB", "time vs torch.load", "memory vs torch.load", "reference speed"],
                bench_model(version), title=f"model load, full-size {version} (random weights)")


@bench.command(name="export")
@_VERSION_OPTION
@click.option("--precision", default="fp32,fp16,int8", callback=_precisions, show_default=True)
@one_line_errors
def bench_export_command(version: str, precision: tuple[str, ...]) -> None:
    """Export full-size random weights: time, peak memory, and the size/error table of every variant."""
    import json

    from exporter.bench import bench_export
    from relaytts.console import print_table

    stats, manifest_json, rows = bench_export(version, precision)
    manifest = json.loads(manifest_json)
    fp32_mb = sum(f["size_bytes"] for f in manifest["files"] if f["precision"] == "fp32") / 1e6
    print_table(["export", "seconds", "peak MB", "fp32 graphs MB", "peak / fp32 size"],
                [[f"full-size {version}", round(stats["seconds"], 1), round(stats["peak_mb"]),
                  round(fp32_mb), round(stats["peak_mb"] / fp32_mb, 2)]])
    keys = ("logits_max_abs", "logits_mean_abs", "greedy_first_divergence_step", "greedy_eos_length",
            "wav_max_abs", "snr_db_vs_fp32", "ge_max_abs", "codes_agreement", "greedy_200_agreement",
            "speed_ratio_to_fp32", "ms_per_step")
    print_table(["graph", "precision", "MB", "validated", "figures"],
                [[f["role"], f["precision"], round(f["size_bytes"] / 1e6, 1), "yes" if f["validated"] else "no",
                  ", ".join(f"{k}={v:.3g}" for k, v in f["parity"].items() if k in keys)]
                 for f in manifest["files"]], title="bundle files")


@main.command()
@click.argument("text")
@click.option("--lang", default="auto", show_default=True, type=click.Choice(["auto", "zh", "en", "ja"]),
              help="Language of TEXT; auto detects per span (kana → ja, other CJK → zh, Latin → en).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (segments, symbols, ids, word2ph).")
@one_line_errors
def phonemize(text: str, lang: str, as_json: bool) -> None:
    """Show how the workers read TEXT: segments, phoneme symbols and ids."""
    from workers.frontend.cli import show_phonemes

    show_phonemes(text, lang, as_json)


@bench.command(name="frontend")
@click.option("--lang", "langs", multiple=True, type=click.Choice(["zh", "en", "ja"]),
              help="Language to measure (repeatable); default all.")
@click.option("--seconds", default=2.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="Measuring time per language, after warm-up.")
@one_line_errors
def bench_frontend_command(langs: tuple[str, ...], seconds: float) -> None:
    """Text frontend: short sentences per second per language, in one thread."""
    from workers.frontend.cli import show_bench

    show_bench(langs, seconds)


@bench.command(name="engines")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path), help="Bundle (default: full-size random v2).")
@click.option("--gpt", type=click.Path(path_type=Path), help="The bundle's GPT checkpoint, for the PyTorch reference.")
@click.option("--sovits", type=click.Path(path_type=Path), help="The bundle's SoVITS checkpoint, for the reference.")
@one_line_errors
def bench_engines_command(bundle_dir: Path | None, gpt: Path | None, sovits: Path | None) -> None:
    """ORT engines vs the PyTorch reference on the same weights: prefill, per token, vocoder, memory."""
    from exporter.bench_engines import bench_engines
    from relaytts.console import print_table

    rows = bench_engines(str(bundle_dir) if bundle_dir else None, str(gpt) if gpt else None,
                         str(sovits) if sovits else None)
    print_table(["metric", "relaytts", "reference", "ratio", "target", "verdict"], rows,
                title="engines (full-size v2 unless --bundle)")


def _register_service_commands() -> None:
    # Defined beside their packages; those modules import only click at module level.
    from edge_client.cli import say_command
    from orchestrator.cli import gateway_command

    main.add_command(gateway_command)
    main.add_command(say_command)


_register_service_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
