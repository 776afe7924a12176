"""Command line: each command is a thin adaptor over one library call."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from trainer import __version__
from trainer.batch.runner import find_inputs, score_batch
from trainer.coding import CODERS, DEFAULT_CODER
from trainer.pipeline import PipelineOptions
from trainer.speakers import METHODS, SpeakerOptions
from trainer.speakers.diarize import MAX_SPEAKERS
from trainer.speech.audio import AUDIO_EXTENSIONS, MAX_HOURS, MAX_HOURS_ENV, MAX_HOURS_LIMIT
from trainer.speech.transcribe import BACKENDS, DEFAULT_MODEL, TranscribeOptions
from trainer.speech.transcript_files import TRANSCRIPT_EXTENSIONS
from trainer.training.commands import TRAINING_COMMANDS


class VoiceCount(click.ParamType):
    """`auto` (None: decided from the audio) or a number of voices."""

    name = "auto|N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        """None for auto, else the count, checked."""
        if value is None or isinstance(value, int) or str(value).lower() == "auto":
            return value if isinstance(value, int) else None
        if not str(value).isdigit() or not 1 <= int(value) <= MAX_SPEAKERS:
            self.fail(f"{value!r} is not auto or a number from 1 to {MAX_SPEAKERS}", param, ctx)
        return int(value)


def pipeline_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Flags shared by every command that runs the pipeline."""

    @click.option(
        "--model",
        default=DEFAULT_MODEL,
        show_default=True,
        help="Whisper model: tiny.en or base (bundled), a CTranslate2 directory or .pt file, or a name to download.",
    )
    @click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default=BACKENDS[0],
        show_default=True,
        help="Speech recogniser: faster-whisper, or openai-whisper (optional extra; same weights, slower on CPU).",
    )
    @click.option(
        "--speakers",
        "speaker_method",
        type=click.Choice(METHODS),
        default="auto",
        show_default=True,
        help="How to tell voices apart: by stereo channel, by diarization, from a <stem>.ref.csv beside the "
        "recording, or choose automatically.",
    )
    @click.option("--swap-roles", is_flag=True, help="The counsellor is the other voice (e.g. right channel).")
    @click.option(
        "--voices",
        type=VoiceCount(),
        default="auto",
        show_default=True,
        help=f"Voices on a single-microphone recording: auto (decided from the audio) or 1-{MAX_SPEAKERS}.",
    )
    @click.option(
        "--counsellor-voice",
        metavar="NAME_OR_FILE",
        default=None,
        help="The counsellor is the voice closest to this enrolled voice (trainer enrol) or recording.",
    )
    @click.option(
        "--coder", type=click.Choice(sorted(CODERS)), default=DEFAULT_CODER, show_default=True, help="Behaviour coder."
    )
    @click.option("--keep-codes", is_flag=True, help="Keep codes a transcript already carries (instructor edits).")
    @click.option("--prompt", default=None, help="Text in the style and words of the sessions, to steer transcription.")
    @click.option("--hotwords", default=None, help="Words likely to be said: names, drug names, local terms.")
    @click.option(
        "--max-hours",
        type=click.FloatRange(min=0, min_open=True, max=MAX_HOURS_LIMIT),
        envvar=MAX_HOURS_ENV,
        default=MAX_HOURS,
        show_default=True,
        help=f"Refuse recordings longer than this (checked before decoding where the file says its length). "
        f"Env: {MAX_HOURS_ENV}.",
    )
    @functools.wraps(command)
    def wrapper(
        *args: Any,
        model: str,
        backend: str,
        speaker_method: str,
        swap_roles: bool,
        voices: int | None,
        counsellor_voice: str | None,
        coder: str,
        keep_codes: bool,
        prompt: str | None,
        hotwords: str | None,
        max_hours: float,
        **kwargs: Any,
    ) -> Any:
        options = PipelineOptions(
            transcribe=TranscribeOptions(model=model, backend=backend, initial_prompt=prompt, hotwords=hotwords),
            speakers=SpeakerOptions(
                method=speaker_method, swap_roles=swap_roles, n_speakers=voices, counsellor_voice=counsellor_voice
            ),
            coder=coder,
            keep_codes=keep_codes,
            max_hours=max_hours,
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
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Inputs scored at once, each worker a process with its own models (at most one per core pays).",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:8786",
    default=None,
    help="Score on the workers of this Dask scheduler instead (they must see the same paths).",
)
@click.option("--report", "with_report", is_flag=True, help="Also write OUT/report.html and OUT/report.csv.")
@pipeline_options
def score(
    paths: tuple[Path, ...],
    out_dir: Path,
    workers: int,
    scheduler: str | None,
    with_report: bool,
    options: PipelineOptions,
) -> None:
    """Score recordings or transcripts (files, or folders searched recursively).

    Writes OUT/<stem>.json per input and OUT/summary.csv with one row each. Running
    it again skips inputs already scored from the same bytes with the same settings
    and redoes failed ones, so an interrupted batch resumes where it stopped. Exits
    non-zero if any input could not be scored; the others are scored regardless.

    Example: trainer score sample_audio recordings/week3.m4a --out out/ --workers 2 --report
    """
    from trainer.errors import TrainerError

    inputs = find_inputs(paths, exclude=out_dir)
    if not inputs:
        where, kinds = ", ".join(map(str, paths)), " ".join(AUDIO_EXTENSIONS + TRANSCRIPT_EXTENSIONS)
        raise click.ClickException(f"{where}: no audio or transcript files to score in it ({kinds})")
    with ExitStack() as stack:
        bars: list[Any] = []

        def on_plan(todo: int, skipped: int) -> None:
            if skipped:
                click.echo(f"{skipped} of {len(inputs)} already scored with these settings: skipped", err=True)
            bar = click.progressbar(
                length=todo,
                label="Scoring",
                file=sys.stderr,
                show_eta=True,
                item_show_func=lambda r: r and Path(r["file"]).name,
            )
            bars.append(stack.enter_context(bar))

        try:
            executor = None
            if scheduler:
                from trainer.batch.dask_cluster import dask_executor

                executor = stack.enter_context(dask_executor(scheduler, options))
            result = score_batch(
                inputs,
                out_dir,
                options,
                on_done=lambda row: bars[0].update(1, row),
                workers=workers,
                executor=executor,
                on_plan=on_plan,
            )
        except TrainerError as e:
            raise click.ClickException(str(e)) from e
    for row in result.failed:
        click.echo(f"error: {row['error']}", err=True)
    ok = len(result.rows) - len(result.failed)
    if len(result.rows) == 1 and not result.failed:
        show_session(out_dir / result.rows[0]["json"])
    click.echo(f"{ok} of {len(result.rows)} scored; summary: {out_dir / 'summary.csv'}", err=True)
    if with_report:
        from trainer.batch.cohort_report import write_report

        click.echo(f"report: {write_report(out_dir).html}", err=True)
    if result.failed:
        sys.exit(1)


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(folder: Path) -> None:
    """Write a cohort report of a folder that `trainer score` filled: FOLDER/report.html and report.csv.

    The page shows each metric's spread against the MITI thresholds and a table of
    sessions linking to their results; the CSV holds the same table for spreadsheets.

    Example: trainer report out/
    """
    from trainer.batch.cohort_report import write_report
    from trainer.errors import TrainerError

    try:
        files = write_report(folder)
    except TrainerError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"report: {files.html} (table: {files.csv})", err=True)


def _labels(given: tuple[str, ...]) -> list[str]:
    """Voice labels from repeated options, each of which may also be a comma-separated list."""
    return [label.strip() for option in given for label in option.split(",") if label.strip()]


@main.command("swap-roles")
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--coder", type=click.Choice(sorted(CODERS)), default=DEFAULT_CODER, show_default=True, help="Behaviour coder."
)
@click.option(
    "--counsellor",
    metavar="LABEL",
    multiple=True,
    help="Make this voice (S0, S1, ... as in the result's speakers.roles) the counsellor and every other "
    "voice a client; repeat it (or give S0,S2) where one person's voice came out as two.",
)
@click.option(
    "--observer",
    metavar="LABEL",
    multiple=True,
    help="Set this voice aside as neither counsellor nor client (an observer): its words count for nobody. "
    "Needs --counsellor.",
)
def swap_roles(results: tuple[Path, ...], coder: str, counsellor: tuple[str, ...], observer: tuple[str, ...]) -> None:
    """Exchange counsellor and client in scored results, or name each voice's role, without transcribing again.

    Each RESULT.json is re-coded, its metrics and feedback recomputed, and rewritten
    in place. summary.csv is not touched: run `trainer report` again if you use it.

    Example: trainer swap-roles out/week3.json (three voices: --counsellor S2 --observer S1 out/group.json)
    """
    import json

    from trainer.batch.output import session_from_dict, write_session_json
    from trainer.coding import load_coder
    from trainer.errors import TrainerError
    from trainer.pipeline import choose_counsellor, swap_session

    if observer and not counsellor:
        raise click.UsageError("--observer needs --counsellor: name the counsellor's voice too")

    try:
        loaded = load_coder(coder)
        for path in results:
            try:
                session = session_from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError) as e:
                raise click.ClickException(f"{path}: not a result written by trainer score ({e})") from e
            labels, aside = _labels(counsellor), _labels(observer)
            if not labels:
                write_session_json(swap_session(session, loaded), path)
                click.echo(f"{path}: counsellor and client exchanged", err=True)
            else:
                write_session_json(choose_counsellor(session, labels, loaded, aside), path)
                aside_note = f", {', '.join(aside)} set aside" if aside else ""
                click.echo(f"{path}: {', '.join(labels)} the counsellor{aside_note}, the rest client", err=True)
    except TrainerError as e:
        raise click.ClickException(str(e)) from e
    if len(results) == 1:
        show_session(results[0])  # the feedback with the roles as they now are


@main.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to record into.")
@click.option(
    "--channels", type=click.IntRange(1, 2), default=1, show_default=True, help="2: one microphone per speaker."
)
@click.option("--max-seconds", type=click.FloatRange(min=1), default=None, help="Stop by itself after this long.")
@click.option("--score", "score_after", is_flag=True, help="Score the recording when it ends.")
@click.option(
    "--live", is_flag=True, help="Show running feedback while recording (roles, counts, nudges); scores at the end."
)
@click.option(
    "--score-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for the score (with --score).",
)
@pipeline_options
def record(
    out: Path,
    channels: int,
    max_seconds: float | None,
    score_after: bool,
    live: bool,
    score_out: Path,
    options: PipelineOptions,
) -> None:
    """Record a session from the default microphone; Enter or Ctrl-C stops it.

    A level meter and the time recorded show while it runs. With --score the
    recording is then scored like `trainer score` would. With --live a panel shows
    talk share, counts, MITI bands, the last coded utterances and nudges as you go,
    and the recording is scored at the end.

    Example: trainer record --out week3.wav --live --score-out out/
    """
    import threading

    from trainer.errors import TrainerError
    from trainer.speech import record as recorder

    stop = threading.Event()
    # Enter (or the end of standard input) stops; Ctrl-C is handled by the recorder.
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    click.echo(f"Recording to {out}; press Enter or Ctrl-C to stop.", err=True)
    record_options = recorder.RecordOptions(channels=channels, max_s=max_seconds)
    try:
        if live:
            done = live_record(out, stop, options, record_options)
        else:
            done = recorder.record(
                out,
                stop,
                record_options,
                on_level=lambda db, s: click.echo("\r" + recorder.meter(db, s), err=True, nl=False),
            )
    except TrainerError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"\nrecorded {done.duration_s:.1f} s to {done.path}", err=True)
    if score_after or live:
        result = score_batch([done.path], score_out, options)
        if result.failed:
            raise click.ClickException(result.failed[0]["error"])
        show_session(score_out / result.rows[0]["json"])
        click.echo(f"scored: {score_out / 'summary.csv'}", err=True)


def show_session(path: Path) -> None:
    """Print one scored session's feedback, as stored in its JSON, on standard output."""
    import json

    from rich.console import Console

    from trainer.batch.output import session_from_dict
    from trainer.batch.session_panel import render_session

    try:
        session = session_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        click.echo(f"{path}: scored, but the result cannot be shown ({e})", err=True)
        return
    Console().print(render_session(session, path))
    click.echo(f"Full result: {path}")  # outside the panel, so a long path is never cut for copying


def live_record(out: Path, stop: Any, options: PipelineOptions, record_options: Any) -> Any:
    """`record --live`: the running panel on standard error, with the pipeline's model and coder."""
    from rich.console import Console

    from trainer.live.session import LiveOptions
    from trainer.live.terminal import record_live

    live = LiveOptions(
        transcribe=replace(options.transcribe, beam_size=LiveOptions().transcribe.beam_size),
        coder=options.coder,
        swap_roles=options.speakers.swap_roles,
        counsellor_voice=options.speakers.counsellor_voice,
    )
    done, _ = record_live(out, stop, Console(stderr=True), live, record_options)
    return done


def data_dir_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--data-dir, shared by the commands that use the app's store."""
    from trainer.app.store import DATA_DIR_ENV, DEFAULT_DATA_DIR

    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=DATA_DIR_ENV,
        default=DEFAULT_DATA_DIR,
        show_default=True,
        help=f"Folder of the app's database and recordings (or ${DATA_DIR_ENV}); created on first use.",
    )(command)


@main.group()
def user() -> None:
    """Accounts of the trainer app.

    Example: trainer user add ann --role trainee --cohort spring
    """


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["trainee", "instructor"]), required=True, help="What the account may do.")
@click.option("--cohort", required=True, help="Group the trainee trains in, or the instructor reviews.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@data_dir_option
def user_add(name: str, role: str, cohort: str, password_stdin: bool, data_dir: Path) -> None:
    """Create a trainee or instructor account; the password is prompted for unless piped in.

    Example: echo 's3cret-pass' | trainer user add ivy --role instructor --cohort spring --password-stdin
    """
    from trainer.app.accounts import register
    from trainer.app.store import Store
    from trainer.errors import TrainerError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        created = register(Store(data_dir), name, role, cohort, password)
    except TrainerError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"created {created.role} {created.name!r} in cohort {created.cohort!r} ({data_dir})", err=True)


@main.command(context_settings={"ignore_unknown_options": True})
@data_dir_option
@click.option("--port", type=int, default=8501, show_default=True, help="Port the app listens on, on localhost only.")
@click.option(
    "--max-upload-mb",
    type=click.IntRange(min=1),
    envvar="TRAINER_MAX_UPLOAD_MB",
    default=200,
    show_default=True,
    help="Largest recording the app accepts, in MB.",
)
@click.argument("streamlit_args", nargs=-1, type=click.UNPROCESSED)
def app(data_dir: Path, port: int, max_upload_mb: int, streamlit_args: tuple[str, ...]) -> None:
    """Run the trainer app in the browser (`streamlit run trainer/app/serve.py`); options after -- go to Streamlit.

    Example: trainer app --data-dir ~/trainer-data --port 8502 -- --server.headless true
    """
    import os
    import subprocess

    from trainer.app.intake import MAX_UPLOAD_ENV
    from trainer.app.store import DATA_DIR_ENV, Store
    from trainer.errors import TrainerError

    script = Path(__file__).resolve().parent / "app" / "serve.py"  # streamlit_app.py with its routes
    try:
        Store(data_dir)  # created (or checked) now, so a bad --data-dir fails here and not in the browser
    except TrainerError as e:
        raise click.ClickException(str(e)) from e
    env = {**os.environ, DATA_DIR_ENV: str(data_dir.resolve()), MAX_UPLOAD_ENV: str(max_upload_mb)}
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    # Recordings are personal: listen on this machine only and report nothing, unless told otherwise.
    command += ["--server.address", "localhost", "--browser.gatherUsageStats", "false"]
    command += ["--client.toolbarMode", "viewer"]  # no "Deploy" button: the app stays on this machine
    command += ["--server.maxUploadSize", str(max_upload_mb), *streamlit_args]
    sys.exit(subprocess.call(command, env=env))


@main.command()
@click.argument("name")
@click.argument("recording", type=click.Path(path_type=Path))
def enrol(name: str, recording: Path) -> None:
    """Keep the voice in RECORDING (about 20 s of one person speaking) as NAME.

    Later, `trainer score --counsellor-voice NAME` makes the voice closest to it the
    counsellor, and the role confidence says how close it is.

    Example: trainer enrol alex alex_voice.webm
    """
    from trainer.errors import TrainerError
    from trainer.speakers.enrol import enrol as store_voice

    try:
        target = store_voice(name, recording)
    except TrainerError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"voice {name!r} enrolled: {target}", err=True)


for _command in TRAINING_COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":  # python -m trainer.cli, as well as the `trainer` script
    main()
