"""Text made safe for each place it is written: HTML, spreadsheet cells and Markdown.

File names, transcripts, comments and user names come from people, and each output
turns some text into code of its own: a link's `javascript:` scheme in HTML, a leading
`=` in a spreadsheet, `![...](...)` in Markdown. Every writer goes through the one
function here for its output, so no writer escapes in its own way or forgets to.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_GUARD = "'"  # prefixed to such a cell: spreadsheets show the rest as text
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:=])")


def html_text(value: object) -> str:
    """Text for an HTML element or a double-quoted attribute value: nothing in it is markup."""
    return html.escape(str(value), quote=True)


def html_href(file_name: str) -> str:
    """A link to a file beside the page, ready for a double-quoted `href`.

    Percent-encoding every reserved character keeps a name such as
    `javascript:alert(1).json` a relative path: with its colon encoded it has no scheme,
    and with its slashes encoded it cannot point into another folder.
    """
    return html_text(quote(file_name, safe=""))


def csv_cell(value: Any) -> Any:
    """A value as a spreadsheet will read it literally.

    Numbers, and text that is a plain decimal number (-0.5 read back from a CSV), stay
    numbers; other text that a spreadsheet would run as a formula gets CSV_GUARD in
    front. Text already starting with guards before such a character gets one more,
    so `csv_uncell` gives back exactly what was written.
    """
    if not isinstance(value, str) or _NUMBER.fullmatch(value):
        return value
    return CSV_GUARD + value if value.lstrip(CSV_GUARD).startswith(FORMULA_START) else value


def csv_uncell(text: str) -> str:
    """The text `csv_cell` was given, from the cell it wrote (other text is returned as it is)."""
    rest = text[len(CSV_GUARD) :]
    return rest if text.startswith(CSV_GUARD) and rest.lstrip(CSV_GUARD).startswith(FORMULA_START) else text


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A CSV document, header first, every cell through `csv_cell`; keys not in `columns` are left out."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def markdown_text(value: object) -> str:
    """Text shown literally where Markdown is rendered: no emphasis, link, image or Streamlit directive."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))
