"""``relaytts say``: speak a text through a gateway, vocoding locally, to a WAV file or stdout.

The command object is ``say_command``; ``relaytts/cli.py`` registers it. Unset flags fall back to
``RELAYTTS_EDGE_*`` variables (``relaytts.settings.load_settings``), then to the defaults.
With ``-o -`` stdout carries only raw s16le PCM and every message goes to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from edge_client.tls_cli import tls_options
from relaytts.errors import RelayError
from relaytts.sampling import MAX_SPEED, MIN_SPEED

__all__ = ["say_command"]


@click.command(name="say")
@click.argument("text")
@click.option("--voice", default="", help="Voice id (default: the bundle's default voice).")
@click.option("-o", "--out", required=True, help="WAV file to write, or - for raw s16le mono PCM on stdout.")
@click.option("--gateway", default=None, help="Gateway host:port [env RELAYTTS_EDGE_GATEWAY; 127.0.0.1:50051].")
@click.option("--api-key", default=None, help="API key sent as a bearer token [env RELAYTTS_EDGE_API_KEY].")
@click.option("--lang", default="auto", show_default=True, type=click.Choice(["auto", "zh", "en", "ja"]),
              help="Language of TEXT.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
              help="Job seed (same seed, same speech); default random.")
@click.option("--cache-dir", default=None, type=click.Path(file_okay=False),
              help="Vocoder cache [env RELAYTTS_EDGE_CACHE_DIR; ~/.cache/relaytts].")
@click.option("--speed", type=click.FloatRange(MIN_SPEED, MAX_SPEED), default=1.0, show_default=True,
              help="Speaking rate, rendered here (above 1 is faster).")
@tls_options
@click.option("--precision", default=None, type=click.Choice(["fp32", "fp16", "int8"]),
              help="Vocoder variant run here [env RELAYTTS_EDGE_PRECISION; fp32]; int8 is the fast one on CPUs.")
def say_command(text: str, voice: str, out: str, gateway: str | None, api_key: str | None, lang: str,
                seed: int | None, cache_dir: str | None, speed: float, precision: str | None,
                edge_tls: dict[str, Any]) -> None:
    """Speak TEXT through the gateway; the vocoder runs here (fetched and cached on first use)."""
    import signal

    def terminated(signum: int, _frame: object) -> None:
        # SIGTERM unwinds like Ctrl-C: the WAV sink deletes its partial file, the job is cancelled.
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    try:
        _say(text, voice, out, gateway, api_key, lang, seed, cache_dir, speed, edge_tls, precision)
    except RelayError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:  # `relaytts say ... -o - | head -c 100`: the reader went away
        sys.stderr.close()
        sys.exit(1)


def _say(text: str, voice: str, out: str, gateway: str | None, api_key: str | None, lang: str, seed: int | None,
         cache_dir: str | None, speed: float = 1.0, edge_tls: dict[str, Any] | None = None,
         precision: str | None = None) -> None:
    from edge_client.client import Client
    from edge_client.sinks import open_sink
    from relaytts.settings import load_settings

    settings = load_settings(overrides={"edge.gateway": gateway, "edge.api_key": api_key,
                                        "edge.cache_dir": cache_dir, "edge.precision": precision, **(edge_tls or {})})
    to_stdout = out == "-"
    with Client.from_settings(settings.edge) as client:
        vocoder = client.ensure_vocoder()
        if not to_stdout and (Path(out).is_dir() or not Path(out).parent.is_dir()):
            raise click.BadParameter(f"{out} is a directory, or its directory does not exist", param_hint="-o/--out")
        sink = open_sink(out, vocoder.sample_rate)
        try:
            for chunk in client.synthesize(text, voice=voice, language=lang, seed=seed, live=sink.live, speed=speed):
                sink.write(chunk)
        except BaseException:
            sink.abort()
            raise
        sink.close()
        stats = client.last_playback
    where = "stdout" if to_stdout else out
    click.echo(f"wrote {where}: {stats.audio_seconds:.2f} s of audio at {vocoder.sample_rate} Hz "
               f"(job {client.last_job_id})", err=to_stdout)
    click.echo(f"time to first audio {stats.time_to_first_audio * 1000:.0f} ms, "
               f"real-time factor {stats.real_time_factor:.2f}"
               + (f", {stats.underruns} underrun(s)" if sink.live else ""), err=to_stdout)
