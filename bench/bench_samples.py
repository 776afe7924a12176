"""Score every sample recording and compare it with its reference file.

Prints, per sample: speaker method, share of speech time attributed to the right
speaker, counsellor talk share (reference, scored, absolute error), code agreement
on matched counsellor utterances, utterance counts and the real-time factor.

    .venv/bin/python bench/bench_samples.py [sample_audio]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from trainer.batch.runner import find_inputs
from trainer.pipeline import PipelineOptions, is_transcript, run_session
from trainer.training.reference import compare, reference_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="sample_audio", type=Path)
    parser.add_argument("--coder", default=PipelineOptions().coder)
    args = parser.parse_args()
    options = PipelineOptions(coder=args.coder)
    print(
        "| sample | speakers | attributed | talk share ref | scored | error | codes agree"
        " | utterances ref/scored | RTF |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for path in find_inputs([args.folder]):
        ref = reference_path(path)
        if is_transcript(path) or not ref.is_file():
            continue
        started = time.perf_counter()
        session = run_session(path, options)
        rtf = (time.perf_counter() - started) / (session.duration_s or 1.0)
        c = compare(session, ref)
        method = session.speakers.method if session.speakers else "-"
        agree = "-" if c.code_agreement is None else f"{c.code_agreement:.0%}"
        print(
            f"| {path.name} | {method} | {c.attributed_share:.1%} | {c.talk_share_reference:.3f} | "
            f"{c.talk_share_scored:.3f} | {c.talk_share_error:.3f} | {agree} | {c.n_reference}/{c.n_scored} | "
            f"{rtf:.3f} |"
        )


if __name__ == "__main__":
    main()
