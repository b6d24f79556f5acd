"""``relaytts voices``: manage the voice library of a gateway (``voices_group``; ``relaytts/cli.py`` registers it).

    relaytts voices add me.wav --transcript "What the clip says." --lang en --name me
    relaytts voices list
    relaytts voices show VOICE_ID
    relaytts voices rename VOICE_ID "new name"
    relaytts voices rm VOICE_ID
    relaytts voices export -o voices.zip [VOICE_ID ...]
    relaytts voices import voices.zip [--replace]
    relaytts voices migrate [--all] [--dry-run]

Every subcommand takes ``--gateway`` and ``--api-key`` (falling back to ``RELAYTTS_EDGE_*``). Only click is
imported here; the client loads when a command runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from edge_client.tls_cli import tls_options

__all__ = ["voices_group"]

F = TypeVar("F", bound=Callable[..., Any])


def _connection(func: F) -> F:
    """``--gateway``/``--api-key`` on a subcommand, a connected ``client`` argument, one-line errors."""

    @click.option("--gateway", default=None, help="Gateway host:port [env RELAYTTS_EDGE_GATEWAY; 127.0.0.1:50051].")
    @click.option("--api-key", default=None, help="API key sent as a bearer token [env RELAYTTS_EDGE_API_KEY].")
    @tls_options
    @functools.wraps(func)
    def wrapper(*args: Any, gateway: str | None, api_key: str | None, edge_tls: dict[str, Any],  # noqa: ANN401
                **kwargs: Any) -> Any:  # noqa: ANN401
        from edge_client.client import Client
        from relaytts.errors import RelayError
        from relaytts.settings import load_settings

        try:
            settings = load_settings(overrides={"edge.gateway": gateway, "edge.api_key": api_key, **edge_tls})
            with Client.from_settings(settings.edge) as client:
                return func(client, *args, **kwargs)
        except RelayError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _when(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if seconds else ""


def _row(voice: Any) -> list[object]:  # noqa: ANN401 - relaytts.voices.VoiceInfo
    return [voice.voice_id, voice.name, voice.language, round(voice.audio_seconds, 2), voice.prompt_token_count,
            voice.bundle_id, _when(voice.created_at)]


HEADERS = ["voice id", "name", "lang", "clip s", "tokens", "bundle", "created (UTC)"]


@click.group(name="voices")
def voices_group() -> None:
    """Register voices from 3-10 s clips and manage them (list, show, rename, rm, export, import, migrate)."""


@voices_group.command(name="add")
@click.argument("audio", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--transcript", required=True, help="What the clip says, word for word.")
@click.option("--lang", default="auto", show_default=True, type=click.Choice(["auto", "zh", "en", "ja"]),
              help="Language of the transcript.")
@click.option("--name", default="", help="Display name (default: the file name without extension).")
@_connection
def add(client: Any, audio: Path, transcript: str, lang: str, name: str) -> None:  # noqa: ANN401
    """Register AUDIO (WAV, FLAC, OGG or MP3; 3-10 s of speech) as a voice; prints its id."""
    voice = client.register_voice(audio, transcript, language=lang, name=name or audio.stem)
    click.echo(voice.voice_id)
    click.echo(f"registered {voice.name!r}: {voice.audio_seconds:.2f} s clip, {voice.prompt_phone_count} prompt "
               f"phones, {voice.prompt_token_count} prompt tokens (bundle {voice.bundle_id})", err=True)


@voices_group.command(name="list")
@_connection
def list_voices(client: Any) -> None:  # noqa: ANN401
    """The voices of your tenant, oldest first."""
    from relaytts.console import print_table

    voices = client.list_voices()
    print_table(HEADERS, [_row(v) for v in voices], title=f"{len(voices)} voice(s)")


@voices_group.command(name="show")
@click.argument("voice_id")
@_connection
def show(client: Any, voice_id: str) -> None:  # noqa: ANN401
    """Everything about one voice."""
    voice = client.get_voice(voice_id)
    for key, value in vars(voice).items():
        if key in ("created_at", "updated_at"):
            value = f"{_when(value)} UTC"
        click.echo(f"{key}: {value}")


@voices_group.command(name="rename")
@click.argument("voice_id")
@click.argument("name")
@_connection
def rename(client: Any, voice_id: str, name: str) -> None:  # noqa: ANN401
    """Give a voice a new display name."""
    voice = client.update_voice(voice_id, name=name)
    click.echo(f"{voice.voice_id} renamed to {voice.name!r}")


@voices_group.command(name="rm")
@click.argument("voice_ids", nargs=-1, required=True)
@_connection
def remove(client: Any, voice_ids: tuple[str, ...]) -> None:  # noqa: ANN401
    """Delete voices (their conditioning and their clips)."""
    for voice_id in voice_ids:
        client.delete_voice(voice_id)
        click.echo(f"deleted {voice_id}")


@voices_group.command(name="export")
@click.argument("voice_ids", nargs=-1)
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The voices file to write (a zip).")
@_connection
def export(client: Any, voice_ids: tuple[str, ...], out: Path) -> None:  # noqa: ANN401
    """Write VOICE_IDS (default: all your voices) to a portable file, for `relaytts voices import`."""
    data = client.export_voices(voice_ids)
    out.write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes)")


@voices_group.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite voices you already have under the same id.")
@_connection
def import_(client: Any, path: Path, replace: bool) -> None:  # noqa: ANN401
    """Load a voices file into your tenant (all or nothing)."""
    result = client.import_voices(path, replace_existing=replace)
    click.echo(f"imported {len(result.imported)} voice(s)"
               + (f", skipped {len(result.skipped)} you already have (--replace overwrites)" if result.skipped
                  else ""))


@voices_group.command(name="migrate")
@click.option("--all", "everything", is_flag=True, help="Recompute every voice, not only those of another bundle.")
@click.option("--dry-run", is_flag=True, help="Only list what would be recomputed.")
@_connection
def migrate(client: Any, everything: bool, dry_run: bool) -> None:  # noqa: ANN401
    """Recompute voices made with another bundle (after a re-export or an import) with the served bundle."""
    from relaytts.console import print_table, progress
    from relaytts.errors import BundleError

    try:
        served = client.model_info().bundle_id
    except BundleError:  # the gateway serves no bundle: it cannot tell which voices are current
        served, everything = None, True
    voices = [v for v in client.list_voices() if everything or v.bundle_id != served]
    if dry_run or not voices:
        print_table(HEADERS, [_row(v) for v in voices], title=f"{len(voices)} voice(s) to recompute")
        return
    rows = []
    with progress() as bar:
        task = bar.add_task("recomputing", total=len(voices))
        for voice in voices:
            fresh = client.update_voice(voice.voice_id, recompute=True)
            rows.append([fresh.voice_id, fresh.name, voice.bundle_id, fresh.bundle_id, fresh.prompt_token_count])
            bar.advance(task)
    print_table(["voice id", "name", "from bundle", "to bundle", "tokens"], rows,
                title=f"{len(rows)} voice(s) recomputed")
