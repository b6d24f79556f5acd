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
from relaytts.sampling import MAX_SPEED, MIN_SPEED

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
@click.option("--hubert", "hubert_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Local chinese-hubert-base folder: adds the optional `hubert` graph (voice registration).")
@click.option("--g2pw", "g2pw_dir", type=click.Path(path_type=Path, file_okay=False),
              help="GPT-SoVITS's GPT_SoVITS/text/G2PWModel folder: adds upstream's polyphone model for Chinese "
                   "(corrections from ../g2pw/polyphonic*.rep; vocabulary from --bert or the install).")
@click.option("--sv", "sv_path", type=click.Path(path_type=Path, dir_okay=False),
              help="v2Pro/v2ProPlus: upstream's pretrained_eres2netv2w24s4ep4.ckpt; adds the `sv` graph their "
                   "style vectors need.")
@one_line_errors
def export(gpt: Path, sovits: Path, out: Path, precision: tuple[str, ...], force: bool, bert_dir: Path | None,
           hubert_dir: Path | None, g2pw_dir: Path | None, sv_path: Path | None) -> None:
    """Convert GPT-SoVITS checkpoints into a validated ONNX bundle."""
    from bundle.manifest import Precision
    from exporter.onnx.bundle_export import VARIANT_ROLES, export_bundle
    from relaytts.console import print_table, progress

    precisions = [Precision(p) for p in precision]
    steps = 1 + 4 * 2 + sum(2 * len(VARIANT_ROLES[p]) for p in precisions if p is not Precision.FP32)
    steps += 3 if bert_dir is not None else 0  # load, export, check
    steps += 3 if hubert_dir is not None else 0
    steps += 3 if g2pw_dir is not None else 0
    steps += 3 if sv_path is not None else 0
    with progress() as bar:
        task = bar.add_task("export", total=steps)
        started = []

        def on_step(message: str) -> None:  # a step starting means the one before it finished
            bar.update(task, description=message, completed=len(started))
            started.append(message)

        manifest, rows = export_bundle(gpt, sovits, out, precisions, force=force, on_step=on_step, bert_dir=bert_dir,
                                       hubert_dir=hubert_dir, g2pw_dir=g2pw_dir, sv_path=sv_path)
        bar.update(task, completed=steps, description="done")
    print_table(["graph", "precision", "metric", "value", "limit", "ok"],
                [[r.graph, r.precision, r.metric, r.value, r.limit, "yes" if r.ok else "NO"] for r in rows],
                title=f"parity ({manifest.model_version}, onnxruntime {manifest.onnxruntime_version})")
    for entry in manifest.files:
        if not entry.validated:
            click.echo(f"note: {entry.path} is written but not validated: {entry.note}", err=True)
    click.echo(f"bundle {manifest.bundle_id} written to {out} (Chinese polyphones: {manifest.zh_polyphones})")


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
@click.option("--speed", type=click.FloatRange(MIN_SPEED, MAX_SPEED), default=1.0, show_default=True,
              help="Speaking rate (above 1 is faster).")
@click.option("--max-tokens", type=int, default=None, help="Per-segment token cap (default: 50 + 10 per phone).")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True,
              help="T2S graph variant.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--threads", type=int, default=0, show_default=True, help="Threads per graph (0 = ORT's choice).")
@one_line_errors
def synth(bundle_dir: Path, text: str | None, phones: str | None, lang: str, ref_audio: Path | None, out: Path,
          seed: int, top_k: int, top_p: float, temperature: float, repetition_penalty: float, noise_scale: float,
          speed: float, max_tokens: int | None, precision: str, device: str, threads: int) -> None:
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
    pieces = (synthesizer.synthesize(text, ge, lang, params, noise_scale, max_tokens, report, speed)
              if text is not None
              else synthesizer.synthesize_phones(phones, ge, params, noise_scale, max_tokens, report, speed))
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
                title=f"bundle {opened.manifest.bundle_id} ({opened.manifest.model_version}, "
                      f"Chinese polyphones: {opened.manifest.zh_polyphones})")


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


@bench.command(name="sv")
@click.option("--sv", "sv_path", type=click.Path(path_type=Path, dir_okay=False),
              help="ERes2NetV2 checkpoint (default: full-size random weights, built in memory).")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path),
              help="Also time a v2Pro/v2ProPlus voice's whole conditioning on this bundle (needs hubert and sv).")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 256), help="Threads per side.")
@click.option("--runs", default=5, show_default=True, type=click.IntRange(1, 100), help="Timed runs (fastest kept).")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the tables here.")
@one_line_errors
def bench_sv_command(sv_path: Path | None, bundle_dir: Path | None, threads: int, runs: int,
                     json_path: Path | None) -> None:
    """Speaker verification (v2Pro/v2ProPlus): sv graph time per second of reference audio vs PyTorch."""
    from exporter.bench_sv import CONDITIONING_HEADERS, HEADERS, bench_sv, bench_sv_conditioning, write_json
    from relaytts.console import print_table

    rows, meta = bench_sv(sv_path, threads, runs)
    print_table(HEADERS, rows, title=f"sv graph vs PyTorch ({meta['sv_source']}, {threads} threads)")
    conditioning = None
    if bundle_dir is not None:
        conditioning = bench_sv_conditioning(bundle_dir, max(1, runs // 2), threads)
        print_table(CONDITIONING_HEADERS, conditioning, title=f"conditioning of a voice on {bundle_dir}")
    if json_path is not None:
        write_json(json_path, rows, meta, conditioning)


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


def _system_settings(bundle_dir: Path | None, redis_url: str | None, port: int | None):  # noqa: ANN202
    from relaytts.settings import load_settings

    overrides = {"redis.url": redis_url, "gateway.port": port}
    if bundle_dir is not None:
        overrides |= {"worker.bundle": str(bundle_dir), "gateway.bundle": str(bundle_dir)}
    return load_settings(overrides=overrides)


def _with_dev_tls(settings, tls_dir: Path):  # noqa: ANN001, ANN202 - Settings
    """The gateway serving TLS with development certificates from ``tls_dir`` (written once)."""
    from relaytts.devtls import ensure_dev_tls

    tls = ensure_dev_tls(tls_dir)
    return settings.with_overrides({
        "gateway.tls_cert_file": str(tls.server_cert), "gateway.tls_key_file": str(tls.server_key),
        "edge.tls": True, "edge.ca_file": str(tls.ca)})


@main.command(name="dev-certs")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--name", "names", multiple=True,
              help="Another name or address the gateway's certificate must carry (repeatable).")
@one_line_errors
def dev_certs(directory: Path, names: tuple[str, ...]) -> None:
    """Write a development CA, a gateway certificate (localhost, 127.0.0.1, ::1, NAMEs) and a client one."""
    from relaytts.devtls import DEFAULT_NAMES, ensure_dev_tls

    tls = ensure_dev_tls(directory, (*DEFAULT_NAMES, *names))
    click.echo(f"CA {tls.ca}; gateway {tls.server_cert} + {tls.server_key}; client {tls.client_cert} + "
               f"{tls.client_key} (development only: the CA key is not kept)")


def _stop_on_interrupt(system) -> None:  # noqa: ANN001
    """Warm stop on the first Ctrl-C (children get SIGTERM and time to finish), cold on the second."""
    try:
        system.stop()
    except KeyboardInterrupt:
        click.echo("second Ctrl-C: killing everything now", err=True)
        system.stop(grace=0)


@main.command()
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path), help="Bundle [RELAYTTS_WORKER_BUNDLE].")
@click.option("--redis-url", help="Use this Redis instead of starting one [RELAYTTS_REDIS_URL].")
@click.option("--port", type=int, help="Gateway port [RELAYTTS_GATEWAY_PORT].")
@click.option("--run-dir", default=".relaytts/run", show_default=True, type=click.Path(path_type=Path),
              help="Logs and Redis data of this run.")
@click.option("--tls", "tls_dir", is_flag=False, flag_value=".relaytts/tls", default=None,
              type=click.Path(path_type=Path, file_okay=False),
              help="Serve TLS with a development CA written (once) to DIR [default .relaytts/tls].")
@one_line_errors
def up(bundle_dir: Path | None, redis_url: str | None, port: int | None, run_dir: Path,
       tls_dir: Path | None) -> None:
    """Run the whole system here: redis-server, a live and a batch worker, the gateway. Ctrl-C stops it.

    A supervisor: a process that dies is restarted (with backoff); SIGINT or SIGTERM stops everything.
    """
    import signal

    from relaytts.embedded import EmbeddedSystem
    from relaytts.errors import InvalidArgument
    from relaytts.redact import mask_url

    settings = _system_settings(bundle_dir, redis_url, port)
    if not settings.worker.bundle:
        raise InvalidArgument("no bundle: pass --bundle DIR or set RELAYTTS_WORKER_BUNDLE "
                              "(`relaytts demo` builds one from random weights)")
    if tls_dir is not None:
        settings = _with_dev_tls(settings, tls_dir)
    click.echo(f"starting redis, worker and gateway (logs in {run_dir}) ...", err=True)
    signals: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        # SIGTERM (systemd, docker stop, kill) stops everything as Ctrl-C does; a signal during the start,
        # or a second one while stopping, interrupts what runs now (KeyboardInterrupt: a cold stop).
        signals.append(signum)
        if len(signals) > 1 or not started:
            raise KeyboardInterrupt

    started = False
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        system = EmbeddedSystem(settings, run_dir).start()
    except KeyboardInterrupt:
        click.echo("stopped during start-up", err=True)
        sys.exit(0)
    started = True
    s = system.settings
    click.echo(f"gateway  {system.gateway_address}  (open mode: no API keys)" if not s.gateway.api_keys_file
               else f"gateway  {system.gateway_address}")
    if s.gateway.tls_cert_file:
        click.echo(f"tls      CA {s.edge.ca_file}: relaytts say --ca-file {s.edge.ca_file} ..." if s.edge.ca_file
                   else f"tls      certificate {s.gateway.tls_cert_file}")
    click.echo(f"redis    {mask_url(s.redis.url)}"
               + (f"  (password in {system.redis.workdir / 'auth.conf'})" if system.redis and system.redis.password
                  else ""))
    if any(child.name == "batch" for child in system.children):
        click.echo(f"books    a t2s.batch worker: {s.books.batch_concurrency} process(es) at nice {s.books.batch_nice}")
    if s.metrics.gateway_port:
        click.echo(f"metrics  http://127.0.0.1:{s.metrics.gateway_port}/metrics (gateway), "
                   f"http://127.0.0.1:{s.metrics.worker_port}/metrics (worker)"
                   + (f", http://127.0.0.1:{system.batch_metrics_port}/metrics (batch worker)"
                      if system.batch_metrics_port else ""))
    click.echo("Ctrl-C to stop.")
    try:
        system.supervise(lambda: bool(signals), lambda line: click.echo(f"supervisor: {line}", err=True))
    except KeyboardInterrupt:
        pass
    except RelayError:  # redis-server would not come back: stop the rest, then say why (one line)
        system.stop()
        raise
    name = signal.Signals(signals[0]).name if signals else "SIGINT"
    click.echo(f"{name}: stopping (signal again to force) ...", err=True)
    _stop_on_interrupt(system)
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    click.echo("stopped", err=True)


@bench.command(name="system")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path),
              help="Bundle to serve (default: the demo bundle, built once in bundles/demo).")
@click.option("--runs", default=20, show_default=True, help="Sequential requests per side.")
@click.option("--streams", default=8, show_default=True, help="Concurrent streams for the throughput figure.")
@click.option("--run-dir", default=".relaytts/bench", show_default=True, type=click.Path(path_type=Path))
@click.option("--with-batch", is_flag=True,
              help="Also measure live time to first chunk while a book runs on the t2s.batch worker (target <= 2x).")
@one_line_errors
def bench_system_command(bundle_dir: Path | None, runs: int, streams: int, run_dir: Path, with_batch: bool) -> None:
    """The distributed path's overhead over in-process synthesis (time to first chunk), and throughput."""
    from relaytts.bench_system import bench_system
    from relaytts.console import print_table
    from relaytts.redis_server import free_port

    if bundle_dir is None:
        from exporter.demo_bundle import build_demo_bundle

        bundle_dir = Path("bundles/demo")
        build_demo_bundle(bundle_dir)
    settings = _system_settings(bundle_dir, None, free_port()).with_overrides(
        {"metrics.gateway_port": 0, "metrics.worker_port": 0, "gateway.max_active_streams": max(64, streams)})
    rows = bench_system(settings, run_dir, runs, streams, with_batch=with_batch)
    print_table(["metric", "system", "in-process", "difference", "target", "verdict"], rows,
                title=f"system vs in-process ({bundle_dir})")


@bench.command(name="latency")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path),
              help="Bundle to serve (default: the demo bundle, built once in bundles/demo).")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]),
              help="Where the worker's T2S and the edge vocoder run.")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]),
              help="Edge vocoder variant.")
@click.option("--gpt", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The bundle's GPT checkpoint: adds the ORT / PyTorch prefill ratio.")
@click.option("--runs", default=12, show_default=True, type=click.IntRange(10), help="Requests after warm-up.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the figures here (JSON).")
@click.option("--run-dir", default=".relaytts/bench", show_default=True, type=click.Path(path_type=Path))
@one_line_errors
def bench_latency_command(bundle_dir: Path | None, device: str, precision: str, gpt: Path | None, runs: int,
                          json_path: Path | None, run_dir: Path) -> None:
    """Time to first audio through the real system (p50/p95, by stage), plus vocoder and prefill ratios."""
    import dataclasses
    import json

    from relaytts.bench_latency import bench_latency
    from relaytts.console import print_table
    from relaytts.redis_server import free_port

    if bundle_dir is None:
        from exporter.demo_bundle import build_demo_bundle

        bundle_dir = Path("bundles/demo")
        build_demo_bundle(bundle_dir)
    settings = _system_settings(bundle_dir, None, free_port()).with_overrides(
        {"metrics.gateway_port": 0, "metrics.worker_port": 0, "worker.device": device})
    report = bench_latency(settings, run_dir, runs, precision=precision, gpt=gpt)
    rows = [["time to first audio (ms)", round(report.ttfa_p50_ms, 1), round(report.ttfa_p95_ms, 1)]]
    rows += [[f"  {name}", round(v["p50_ms"], 1), round(v["p95_ms"], 1)] for name, v in report.stages.items()]
    rows += [["underruns (live-sink model), all requests", report.underruns, ""],
             ["streamed / offline vocoder cost", round(report.stream_offline_ratio, 2), ""]]
    if report.prefill:
        rows.append(["prefill ORT / PyTorch (best of 5)", round(report.prefill["ratio"], 2),
                     f"{report.prefill['ort_ms']:.1f} / {report.prefill['torch_ms']:.1f} ms"])
        rows.append(["prefill ORT / compute floor", round(report.prefill["ort_vs_floor"], 2),
                     f"floor {report.prefill['floor_ms']:.1f} ms"])
    rows += [[f"vocoder {v['precision']}: time / fp32, SNR dB", round(v["time_ratio_vs_fp32"], 2),
              round(v["snr_db_vs_fp32"], 1)] for v in report.variants]
    print_table(["metric", "p50 / value", "p95 / detail"], rows, title=f"time to first audio ({bundle_dir}, {device})")
    if json_path is not None:
        json_path.write_text(json.dumps(dataclasses.asdict(report), indent=2) + "\n", encoding="utf-8")


@bench.command(name="serving")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path),
              help="Bundle to serve (default: full-size random v2 weights, built once in bundles/full-v2).")
@click.option("--streams", default="1,2,4,8,16,32,64,128", show_default=True,
              help="Comma-separated concurrencies to run, each batched and sequential.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the figures here.")
@click.option("--run-dir", default=".relaytts/bench-serving", show_default=True, type=click.Path(path_type=Path))
@one_line_errors
def bench_serving_command(bundle_dir: Path | None, streams: str, device: str, json_path: Path | None,
                          run_dir: Path) -> None:
    """Continuous batching vs one decode at a time on the real system: tokens/s, audio s/s, first chunk."""
    import json

    from relaytts.bench_serving import bench_serving, summary_rows
    from relaytts.console import print_table
    from relaytts.errors import InvalidArgument
    from relaytts.redis_server import free_port

    try:
        counts = sorted({int(n) for n in streams.split(",") if n.strip()})
    except ValueError:
        raise InvalidArgument(f"`--streams` must be comma-separated integers; given {streams!r}") from None
    if not counts or counts[0] < 1:
        raise InvalidArgument(f"`--streams` must be at least 1; given {streams!r}")
    if bundle_dir is None:
        from exporter.demo_bundle import build_demo_bundle

        bundle_dir = Path("bundles/full-v2")
        if not (bundle_dir / "manifest.json").is_file():
            click.echo(f"building full-size random v2 weights in {bundle_dir} (once) ...", err=True)
        build_demo_bundle(bundle_dir, full_size=True)
    settings = _system_settings(bundle_dir, None, free_port()).with_overrides(
        {"metrics.gateway_port": 0, "metrics.worker_port": 0, "worker.device": device})
    rows = bench_serving(settings, run_dir, counts, say=lambda m: click.echo(m, err=True))
    print_table(["streams", "tokens/s batched", "tokens/s sequential", "ratio", "audio s/s batched",
                 "audio s/s sequential", "first chunk p50/p95 ms batched", "sequential", "batched p95 vs 1 stream"],
                summary_rows(rows), title=f"serving: continuous batching vs sequential ({bundle_dir}, {device})")
    if json_path is not None:
        from bundle import Bundle

        manifest = Bundle.open(bundle_dir, verify=False).manifest
        json_path.write_text(json.dumps({
            "rows": [{"streams": r.streams, "mode": r.mode, "tokens_per_s": r.tokens_per_s,
                      "audio_s_per_s": r.audio_s_per_s, "ttfc_p50_ms": r.ttfc_p50_ms, "ttfc_p95_ms": r.ttfc_p95_ms,
                      "wall_s": r.wall_s, "tokens": r.tokens} for r in rows],
            "bundle": {"path": str(bundle_dir), "bundle_id": manifest.bundle_id,
                       "model_version": manifest.model_version, "t2s": manifest.t2s},
            "device": device,
        }, indent=2) + "\n")


DEMO_TEXT = "Hello! This sentence went from a cloud worker to the edge as latent chunks. 你好，世界。"


@main.command()
@click.option("-o", "--out", default="demo.wav", show_default=True, type=click.Path(path_type=Path))
@click.option("--text", default=DEMO_TEXT, show_default=True)
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path),
              help="Where the demo bundle is built (once) and served from [default: bundles/demo, or "
                   "bundles/demo-VERSION for v2Pro/v2ProPlus].")
@click.option("--full-size", is_flag=True, help="Build the demo bundle at upstream's full size.")
@click.option("--version", "version", default="v2", show_default=True, type=click.Choice(["v2", "v2Pro", "v2ProPlus"]),
              help="SoVITS preset of the demo bundle; v2Pro/v2ProPlus add a random speaker-verification net.")
@click.option("--run-dir", default=".relaytts/demo", show_default=True, type=click.Path(path_type=Path))
@one_line_errors
def demo(out: Path, text: str, bundle_dir: Path | None, full_size: bool, version: str, run_dir: Path) -> None:
    """Build a random-weight bundle, start the system, speak TEXT to a WAV, show where the time went."""
    from exporter.demo_bundle import DEMO_NOTICE, build_demo_bundle
    from relaytts.demo import run_demo
    from relaytts.redis_server import free_port

    click.echo(DEMO_NOTICE, err=True)
    if bundle_dir is None:
        bundle_dir = Path("bundles/demo" if version == "v2" else f"bundles/demo-{version}")
    if not (bundle_dir / "manifest.json").is_file():
        click.echo(f"building the {version} demo bundle in {bundle_dir} (once) ...", err=True)
    build_demo_bundle(bundle_dir, full_size=full_size, version=version)
    settings = _system_settings(bundle_dir, None, free_port()).with_overrides(
        {"metrics.gateway_port": free_port(), "metrics.worker_port": free_port()})
    click.echo("starting redis, worker and gateway ...", err=True)
    report = run_demo(settings, run_dir, text, out)
    click.echo(report)


def _register_service_commands() -> None:
    # Defined beside their packages; those modules import only click at module level.
    from edge_client.book_cli import book_group
    from edge_client.cli import say_command
    from edge_client.voices_cli import voices_group
    from orchestrator.cli import gateway_command
    from workers.cli import worker_command

    main.add_command(book_group)
    main.add_command(gateway_command)
    main.add_command(say_command)
    main.add_command(voices_group)
    main.add_command(worker_command)


_register_service_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
