"""Text made safe per output: properties with hypothesis, then the outputs that use it on real files."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from trainer.safe_text import FORMULA_START, csv_cell, csv_text, csv_uncell, html_href, html_text, markdown_text

FAST = settings(max_examples=300, deadline=None)
# Text built from the characters that matter to each output, plus anything else.
tricky = st.text(alphabet=st.sampled_from("=+-@\t\r'\"<>&:/\\()[]!*_`#.0123456789eE ajs\n"), max_size=12) | st.text()


def is_formula(cell: str) -> bool:
    """What a spreadsheet would run: a cell starting with a formula character that is not a plain number."""
    return cell.startswith(FORMULA_START) and not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", cell)


@FAST
@given(tricky)
def test_csv_cells_are_never_formulas_and_read_back_exactly(text):
    cell = csv_cell(text)
    assert not is_formula(cell)
    assert csv_uncell(cell) == text


@FAST
@given(
    st.lists(
        st.fixed_dictionaries({"a": tricky, "b": st.floats(allow_nan=False, allow_infinity=False) | st.integers()}),
        max_size=5,
    )
)
def test_csv_documents_keep_numbers_and_guard_text(rows):
    read = list(csv.DictReader(io.StringIO(csv_text(("a", "b"), rows))))
    assert [csv_uncell(r["a"]) for r in read] == [r["a"] for r in rows]
    assert [float(r["b"]) for r in read] == [float(r["b"]) for r in rows]
    assert not any(is_formula(value) for r in read for value in r.values())


def test_negative_numbers_stay_numbers():
    assert csv_cell(-0.5) == -0.5 and csv_cell("-0.5") == "-0.5" and csv_cell("-1e-3") == "-1e-3"
    assert csv_cell("-1+1") == "'-1+1" and csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("'=x") == "''=x" and csv_uncell("''=x") == "'=x"
    assert csv_cell("'Tis") == "'Tis" and csv_uncell("'Tis") == "'Tis"


class Parsed(HTMLParser):
    """Elements, attributes and text of an HTML snippet."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.hrefs += [v for k, v in attrs if k == "href"]

    def handle_data(self, data):
        self.text += data


@FAST
@given(tricky)
def test_html_text_is_only_text(text):
    page = Parsed()
    page.feed(f'<p title="{html_text(text)}">{html_text(text)}</p>')
    page.close()
    assert page.tags == ["p"] and page.text == text


@FAST
@given(tricky)
def test_links_stay_relative_and_name_the_file(name):
    page = Parsed()
    page.feed(f'<a href="{html_href(name)}">x</a>')
    (href,) = page.hrefs
    parts = urlsplit(href)
    assert parts.scheme == "" and parts.netloc == "" and "/" not in href
    assert unquote(href) == name


def test_a_script_name_is_a_file_name():
    assert html_href("javascript:alert(document.domain).json") == "javascript%3Aalert%28document.domain%29.json"


@FAST
@given(tricky)
def test_markdown_text_escapes_every_special_character(text):
    escaped = markdown_text(text)
    assert re.sub(r"\\(.)", r"\1", escaped, flags=re.S) == text
    unescaped_specials = re.sub(r"\\.", "", escaped, flags=re.S)
    assert not set(unescaped_specials) & set(r"\`*_{}[]()#+-.!|~<>$:=")


def test_an_image_in_a_name_is_not_markdown():
    assert markdown_text("![x](https://example.invalid/a.png).wav") == (
        r"\!\[x\]\(https\://example\.invalid/a\.png\)\.wav"
    )
