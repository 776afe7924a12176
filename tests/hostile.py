"""A corpus of hostile inputs, generated on demand (nothing of it is committed as files).

`write_corpus(folder)` writes transcripts with impossible times and fields, names that
are scripts, formulas or Markdown, broken and over-long audio; `STORE_IDS` are ids an
attacker may hand the store; `write_broken_outputs(folder)` makes scored folders whose
summary.csv and JSON were damaged or edited by hand, for `trainer report`.

Run it to keep a corpus for manual checks: `python tests/hostile.py DIR`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

GOOD_ROWS = (
    ("counsellor", "What brings you in today?"),
    ("client", "My doctor thinks I drink too much."),
    ("counsellor", "You're worried about what she said."),
    ("client", "A bit, yes."),
    ("counsellor", "Do you drink every day?"),
    ("client", "Most days."),
)
# File names that are scripts, markup, formulas or Markdown; each holds a valid transcript.
HOSTILE_NAMES = (
    "javascript:alert(document.domain).csv",
    "<script>alert(1)<%2Fscript>.csv",
    '"><img src=x onerror=alert(1)>.csv',
    "' onmouseover='alert(1).csv",
    "![x](https:%2F%2Fexample.invalid%2Fpixel.png).csv",
    "[click](javascript:alert(1)).csv",
    '=HYPERLINK("https:%2F%2Fexample.invalid","x").csv',
    "@SUM(1+1)*cmd.csv",
    "+1+cmd.csv",
    "-2+3.csv",
    "\t=1.csv",
    "=1+2.txt",
    "data:text%2Fhtml,<script>alert(1)<%2Fscript>.json",
    "line\nbreak.csv",
    "%2e%2e%2f..%2fescape.csv",
    "#heading **bold** :red[x].csv",
)
# Cells that spreadsheets would run, as utterance text, speaker and code.
FORMULA_TEXTS = ("=1+2", '=HYPERLINK("https://example.invalid")', "@SUM(A1:A2)", "+1+2", "-2+3", "\t=1", "\r=1")
STORE_IDS = (
    99999999999999999999,
    9223372036854775808,
    2**64,
    0,
    -1,
    "²",
    "'1'",
    "1",
    "1.0",
    "True",
    True,
    1.0,
    None,
    [1],
)


def silent_flac(path: Path, hours: float, declare_length: bool = True, rate: int = 1000) -> Path:
    """Hours of silence as FLAC: tens of kilobytes that decode to gigabytes.

    With `declare_length=False` the header's sample count is zeroed, as a streaming
    encoder leaves it, so only decoding can tell how long it is.
    """
    block = np.zeros(rate * 600, dtype=np.int16)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_16") as f:
        for _ in range(math.ceil(hours * 6)):
            f.write(block)
    if not declare_length:
        data = bytearray(path.read_bytes())
        # STREAMINFO follows "fLaC" and a 4-byte block header; its 36-bit sample count ends at byte 26.
        field = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)
        data[18:26] = field.to_bytes(8, "big")
        path.write_bytes(bytes(data))
    return path


def _csv(rows: list[tuple[str, ...]], header: str = "speaker,start,end,text") -> str:
    lines = [header] + [",".join(row) for row in rows]
    return "\n".join(lines) + "\n"


def _timed(bad: tuple[str, str] | None = None, at: int = 2) -> str:
    """A timed CSV transcript whose row `at` gets the (start, end) given."""
    rows = []
    for i, (speaker, text) in enumerate(GOOD_ROWS):
        start, end = bad if bad and i == at else (f"{i * 3}", f"{i * 3 + 2}")
        rows.append((speaker, start, end, text))
    return _csv(rows)


def _json(utterance: dict | None = None, **top: object) -> str:
    """Our JSON format with its third utterance replaced, and top-level keys set; NaN allowed on purpose."""
    items = [{"speaker": s, "text": t, "start": i * 3, "end": i * 3 + 2} for i, (s, t) in enumerate(GOOD_ROWS)]
    if utterance is not None:
        items[2] = utterance
    return json.dumps({"source": "x", "utterances": items, **top})


def transcripts() -> dict[str, str | bytes]:
    """Hostile transcript files by name."""
    files: dict[str, str | bytes] = {
        "time_nan.csv": _timed(("nan", "5")),
        "time_inf.csv": _timed(("1", "inf")),
        "time_minus_inf.csv": _timed(("-inf", "1")),
        "end_before_start.csv": _timed(("9", "2")),
        "negative_start.csv": _timed(("-3", "2")),
        "time_words.csv": _timed(("soon", "later")),
        "time_huge.csv": _timed(("1e308", "1.7e308")),
        "json_duration_negative.json": _json(duration_s=-100),
        "json_duration_object.json": _json(duration_s={"a": 1}),
        "json_text_null.json": _json({"speaker": "counsellor", "text": None}),
        "json_text_object.json": _json({"speaker": "counsellor", "text": {"a": 1}}),
        "json_text_list.json": _json({"speaker": "counsellor", "text": ["a"]}),
        "json_speaker_number.json": _json({"speaker": 7, "text": "hi"}),
        "json_code_object.json": _json({"speaker": "counsellor", "text": "hi", "code": {"x": 1}}),
        "json_start_true.json": _json({"speaker": "counsellor", "text": "hi", "start": True, "end": 2}),
        "json_start_nan.json": _json({"speaker": "counsellor", "text": "hi", "start": float("nan"), "end": 2}),
        "json_end_infinity.json": _json({"speaker": "counsellor", "text": "hi", "start": 1, "end": float("inf")}),
        "json_huge_number.json": _json().replace('"end": 2}', '"end": 1e999}', 1),
        "json_surrogate.json": _json({"speaker": "counsellor", "text": "\ud800"}),
        "json_deep.json": "[" * 100_000 + "]" * 100_000,
        "json_top_list.json": "[1, 2, 3]",
        "json_null.json": "null",
        "json_utterances_string.json": json.dumps({"utterances": "counsellor: hi"}),
        "csv_nul.csv": "speaker,text\ncounsellor,hel\0lo\n",
        "csv_huge_field.csv": "speaker,text\ncounsellor," + "a" * 200_000 + "\n",
        "csv_not_utf8.csv": b"speaker,text\ncounsellor,caf\xe9\n",
        "csv_bom_only.csv": "\ufeff",
        "csv_header_only.csv": "speaker,text\n",
        "csv_speaker_formula.csv": "speaker,text\n=cmd|' /C calc'!A0,hello\n",
        "csv_code_formula.csv": "speaker,text,code\ncounsellor,hello,=1+1\n",
        "csv_many_columns.csv": "speaker,text," + ",".join(f"c{i}" for i in range(5000)) + "\ncounsellor,hi\n",
        "txt_no_prefix.txt": "hello there\n",
        "txt_binary.txt": bytes(range(256)) * 4,
        "empty.csv": "",
    }
    buffer = io.StringIO()
    csv.writer(buffer).writerows([("speaker", "text"), *(("counsellor", t) for t in FORMULA_TEXTS)])
    files["formula_texts.csv"] = buffer.getvalue()
    for name in HOSTILE_NAMES:
        if name.endswith(".json"):
            files[name] = _json()
        elif name.endswith(".txt"):
            files[name] = "".join(f"{s.title()}: {t}\n" for s, t in GOOD_ROWS)
        else:
            files[name] = _timed()
    return files


def _wav_header(data_bytes: int, rate: int = 16000) -> bytes:
    """A 16-bit mono WAV header claiming `data_bytes` of samples."""
    return (
        b"RIFF"
        + struct.pack("<I", min(36 + data_bytes, 0xFFFFFFFF))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def recordings(folder: Path) -> list[Path]:
    """Hostile audio files, written into `folder`."""
    raw = {
        "random.mp3": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        "text.wav": b"this is not audio at all\n" * 40,
        "header_only.wav": _wav_header(0),
        "header_claims_37h.wav": _wav_header(0xFFFFFF00) + b"\0" * 32000,
        "zero.flac": b"",
        "garbage.opus": b"OggS" + b"\xff" * 500,
    }
    for name, data in raw.items():
        (folder / name).write_bytes(data)
    made = [folder / name for name in raw]
    made.append(silent_flac(folder / "silence_12h.flac", 12))
    made.append(silent_flac(folder / "silence_5h_no_length.flac", 5, declare_length=False))
    return made


def write_corpus(folder: Path) -> list[Path]:
    """Every hostile input file, written into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in transcripts().items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        paths.append(path)
    return paths + recordings(folder)


def write_broken_outputs(folder: Path) -> list[Path]:
    """Scored folders damaged by hand, one per way: `trainer report` must still write a report or say why."""
    columns = "file,status,error,warnings,duration_s,n_counsellor_utterances,reflection_question_ratio,json"
    cases = {
        "odd_values": [
            "a.csv,ok,,,nan,3,inf,a.json",
            "b.csv,ok,,,-inf,-4,-1e308,../../outside.json",
            "c.csv,ok,,,1e308,x,1e999,javascript:alert(1).json",
            "=cmd.csv,error,=HYPERLINK(1),,,,,",
        ],
        "short_and_long_rows": ["a.csv,ok", "b.csv,ok,,,,,,,,,extra,cells"],
        "no_status_column": None,
        "not_utf8": b"file,status\n\xff\xfe,ok\n",
        "nul_byte": "file,status\na\0.csv,ok\n",
        "empty_summary": "",
    }
    made = []
    for name, rows in cases.items():
        out = folder / name
        out.mkdir(parents=True)
        if isinstance(rows, bytes):
            (out / "summary.csv").write_bytes(rows)
        elif isinstance(rows, str):
            (out / "summary.csv").write_text(rows, encoding="utf-8")
        elif rows is None:
            (out / "summary.csv").write_text("file,json\na.csv,a.json\n", encoding="utf-8")
        else:
            (out / "summary.csv").write_text(columns + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
        (out / "a.json").write_text('{"feedback": {"summary": NaN}, "utterances": [{"text": Infinity}]}')
        made.append(out)
    return made


if __name__ == "__main__":
    target = Path(sys.argv[1])
    written = write_corpus(target / "inputs") + write_broken_outputs(target / "outputs")
    print(f"{len(written)} hostile inputs written under {target}")
