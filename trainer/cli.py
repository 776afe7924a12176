"""Command line: each command is a thin adaptor over one library call."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from trainer import __version__
from trainer.batch import find_inputs, score_batch
from trainer.coding import CODERS, DEFAULT_CODER
from trainer.pipeline import PipelineOptions
from trainer.speakers import METHODS, SpeakerOptions
from trainer.transcribe import DEFAULT_MODEL, TranscribeOptions


def pipeline_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Flags shared by every command that runs the pipeline."""

    @click.option(
        "--model",
        default=DEFAULT_MODEL,
        show_default=True,
        help="Whisper model: bundled name, local CTranslate2 directory, or downloadable name.",
    )
    @click.option(
        "--speakers",
        "speaker_method",
        type=click.Choice(METHODS),
        default="auto",
        show_default=True,
        help="How to tell voices apart: by stereo channel, by diarization, or choose automatically.",
    )
    @click.option("--swap-roles", is_flag=True, help="The counsellor is the other voice (e.g. right channel).")
    @click.option(
        "--coder", type=click.Choice(sorted(CODERS)), default=DEFAULT_CODER, show_default=True, help="Behaviour coder."
    )
    @click.option("--keep-codes", is_flag=True, help="Keep codes a transcript already carries (instructor edits).")
    @click.option("--prompt", default=None, help="Domain words to steer transcription (names, drug names).")
    @functools.wraps(command)
    def wrapper(
        *args: Any,
        model: str,
        speaker_method: str,
        swap_roles: bool,
        coder: str,
        keep_codes: bool,
        prompt: str | None,
        **kwargs: Any,
    ) -> Any:
        options = PipelineOptions(
            transcribe=TranscribeOptions(model=model, initial_prompt=prompt),
            speakers=SpeakerOptions(method=speaker_method, swap_roles=swap_roles),
            coder=coder,
            keep_codes=keep_codes,
        )
        return command(*args, options=options, **kwargs)

    return wrapper


@click.group()
@click.version_option(__version__)
@click.option("-v", "--verbose", is_flag=True, help="Show debug logging.")
def main(verbose: bool) -> None:
    """Score counselling role plays: transcript, codes, MI metrics and feedback.

    Example: trainer score sample_audio --out out/
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(message)s")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for <stem>.json files and summary.csv.",
)
@pipeline_options
def score(paths: tuple[Path, ...], out_dir: Path, options: PipelineOptions) -> None:
    """Score recordings or transcripts (files, or folders searched recursively).

    Writes OUT/<stem>.json per input and OUT/summary.csv with one row each. Exits
    non-zero if any input could not be scored; the others are scored regardless.

    Example: trainer score sample_audio recordings/week3.m4a --out out/
    """
    inputs = find_inputs(paths, exclude=out_dir)
    if not inputs:
        raise click.ClickException("no supported audio or transcript files found")
    with click.progressbar(
        length=len(inputs),
        label="Scoring",
        file=sys.stderr,
        show_eta=True,
        item_show_func=lambda r: r and Path(r["file"]).name,
    ) as bar:
        result = score_batch(inputs, out_dir, options, on_done=lambda row: bar.update(1, row))
    for row in result.failed:
        click.echo(f"error: {row['error']}", err=True)
    ok = len(result.rows) - len(result.failed)
    click.echo(f"{ok} of {len(result.rows)} scored; summary: {out_dir / 'summary.csv'}", err=True)
    if result.failed:
        sys.exit(1)
