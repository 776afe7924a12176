"""The commands that train and measure the models (`trainer evaluate`, `train-coder`,
`build-examples`, `calibrate`); `trainer.cli` adds them to the `trainer` command.

Scoring never needs them, so their imports stay inside each command.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trainer.coding import CODERS

if TYPE_CHECKING:
    from trainer.training.annomi import AnnotatedTranscript
    from trainer.training.train import TrainOptions


# Options that several commands share; each use of one adds its own click.Option.
# --data: the AnnoMI folder the coder learns from and is scored on.
annomi_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="AnnoMI folder with dev_simple.csv, dev_therapist5.csv, dev.csv [default: the repository's data/annomi].",
)
# --device: where training runs; a GPU only makes it faster, the results match within noise.
device_option = click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="torch device to train on, e.g. cuda (the shipped coder was trained on the CPU).",
)
# --context-tokens: how much of the other speaker's previous turn the encoder reads with each utterance.
context_option = click.option(
    "--context-tokens",
    type=click.IntRange(min=0, max=64),
    default=None,
    help="Word pieces from the end of the other speaker's previous turn read with each utterance "
    "(0: none) [default: the shipped recipe's].",
)


def loss_weight_option(flag: str, what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A training loss weight on the command line; not given keeps the shipped recipe's."""
    return click.option(
        flag,
        type=click.FloatRange(min=0),
        default=None,
        help=f"Loss weight of {what} (0: none) [default: the shipped recipe's].",
    )


# --presence-weight: multi-task training on the behaviours annotators marked besides the main one.
presence_option = loss_weight_option(
    "--presence-weight",
    "a training-only head predicting which questions and reflections annotators marked in an "
    "utterance besides its main code",
)
# --coarse-weight: extra loss on the behaviour (question, reflection, other) before its subtype.
coarse_option = loss_weight_option(
    "--coarse-weight",
    "the behaviour alone (question, reflection or other, summed from the code probabilities) besides the five codes",
)

# --history: a recurrent layer over the conversation in the head, beyond the direct neighbours.
history_option = click.option(
    "--history",
    is_flag=True,
    default=None,
    help="Let the head read the whole conversation's history through a bidirectional GRU "
    "[default: the shipped recipe's].",
)


# --epochs: passes over the training transcripts.
epochs_option = click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help="Passes over the training data [default: the shipped recipe's].",
)


def annomi(data_dir: Path | None) -> tuple[AnnotatedTranscript, ...]:
    """The transcripts in --data (default: the repository's copy), or a one-line error naming the file."""
    from trainer.errors import InputError
    from trainer.training.annomi import DATA_DIR, load_annomi

    try:
        return load_annomi(data_dir or DATA_DIR)
    except InputError as e:
        raise click.ClickException(str(e)) from e


def recipe_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that change the training recipe: --data, --device and the recipe's own."""
    for option in reversed(
        (annomi_option, device_option, context_option, presence_option, coarse_option, history_option, epochs_option)
    ):
        command = option(command)
    return command


def recipe(**changes: Any) -> TrainOptions:
    """The shipped training recipe with the options given on the command line (None: not given)."""
    from trainer.training.train import TrainOptions

    return TrainOptions(**{k: v for k, v in changes.items() if v is not None})


@click.command()
@recipe_options
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Cross-validation folds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fold split and of training.")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Score this trained coder as it is, instead of cross-validating (for transcripts it did not learn from).",
)
@click.option(
    "--coder",
    "coder_name",
    type=click.Choice(sorted(CODERS)),
    default=None,
    help="Score a coder by name (e.g. rules) as it is, instead of cross-validating.",
)
@click.option(
    "--probabilities",
    "probabilities_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write each utterance's out-of-fold code probabilities to this JSON-lines file.",
)
@click.option(
    "--float32",
    is_flag=True,
    help="Code with float32 layers instead of the int8 ones scoring uses (about twice the CPU time).",
)
def evaluate(
    data_dir: Path | None,
    device: str,
    folds: int,
    seed: int,
    model_dir: Path | None,
    coder_name: str | None,
    probabilities_path: Path | None,
    float32: bool,
    **changes: float | None,  # --context-tokens, --epochs, --history and the loss weights, as given
) -> None:
    """Score the behaviour coder against AnnoMI's expert codes and print the tables (markdown).

    By default trains one coder per fold of a cross-validation grouped by video and
    series (about 40 minutes on 2 CPU cores); --model or --coder score a finished coder.

    Example: trainer evaluate --folds 5 > evaluation.md
    """
    from trainer.coding import load_coder
    from trainer.errors import TrainerError
    from trainer.training.evaluation import code_transcripts, evaluation_report, write_probabilities

    logging.getLogger("trainer").setLevel(logging.INFO)  # progress of a long run
    transcripts = annomi(data_dir)
    try:
        if model_dir or coder_name:
            from trainer.coding.mi_coder import MICoder

            coder = MICoder.load(model_dir, quantize=not float32) if model_dir else load_coder(coder_name)
            coded, coded_asr = code_transcripts(coder, transcripts)
            if probabilities_path:
                if not isinstance(coder, MICoder):
                    raise click.ClickException("--probabilities needs the trained coder; the rules give none")
                probabilities = [coder.probabilities(t.plain) for t in transcripts]
                write_probabilities(probabilities_path, transcripts, probabilities)
        else:
            from trainer.training.train import cross_validate

            fold_done = None
            if probabilities_path:
                probabilities_path.write_text("", encoding="utf-8")
                fold_done = functools.partial(write_probabilities, probabilities_path, mode="a")
            options = recipe(seed=seed, device=device, **changes)
            result = cross_validate(transcripts, folds, options, fold_done, quantize=not float32)
            coded, coded_asr = result.coded, result.coded_asr
    except (TrainerError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(evaluation_report(transcripts, coded, coded_asr))


@click.command("train-coder")
@recipe_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the artifact [default: models/mi_coder, the one the trainer ships].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of training.")
def train_coder(
    data_dir: Path | None,
    device: str,
    out_dir: Path | None,
    seed: int,
    **changes: float | None,  # --context-tokens, --epochs, --history and the loss weights, as given
) -> None:
    """Train the behaviour coder on AnnoMI, on the CPU (about 10 minutes on 2 cores).

    Example: trainer train-coder --out models/mi_coder
    """
    from trainer.coding.mi_coder import MODEL_DIR
    from trainer.training.train import train_coder

    logging.getLogger("trainer").setLevel(logging.INFO)
    transcripts = annomi(data_dir)
    options = recipe(seed=seed, device=device, **changes)
    written = train_coder(transcripts, out_dir or MODEL_DIR, options)
    click.echo(f"coder written to {written}", err=True)


@click.command("build-examples")
@annomi_option
def build_examples(data_dir: Path | None) -> None:
    """Build the expert examples the feedback page shows (models/expert_examples.*), in about a minute.

    Example: trainer build-examples
    """
    from trainer.scoring.examples import INDEX_ROWS
    from trainer.training.examples_index import build_index

    transcripts = annomi(data_dir)
    try:
        count = build_index(transcripts)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{count} expert examples written to {INDEX_ROWS.parent}", err=True)


@click.command()
@annomi_option
@click.argument("probabilities", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for intervals.json and mi_quality.json [default: models, the ones the trainer ships].",
)
def calibrate(data_dir: Path | None, probabilities: Path, out_dir: Path | None) -> None:
    """Fit the metric ranges and the MI-quality estimate on cross-validated codes; print their scores.

    PROBABILITIES is the file `trainer evaluate --probabilities` wrote.

    Example: trainer evaluate --probabilities oof.jsonl && trainer calibrate oof.jsonl
    """
    from trainer.scoring.intervals import CALIBRATION_FILE
    from trainer.training.calibration import calibrate as fit

    transcripts = annomi(data_dir)
    try:
        report = fit(transcripts, probabilities, out_dir or CALIBRATION_FILE.parent)
    except (OSError, ValueError, KeyError) as e:
        raise click.ClickException(f"{probabilities}: cannot calibrate from it ({e})") from e
    click.echo(report)


TRAINING_COMMANDS = (evaluate, train_coder, build_examples, calibrate)
