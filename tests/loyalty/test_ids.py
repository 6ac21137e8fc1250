"""External ids (loyalty.ids): what can be one."""

import sys
import unicodedata

import pytest

from loyalty.ids import CONTROL_CHARACTERS, external_id_problem, order_id_problem


def test_the_control_characters_found_are_exactly_unicodes_category_cc():
    found = [c for c in range(sys.maxunicode + 1) if CONTROL_CHARACTERS.search(chr(c))]
    assert found == [c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cc"]


@pytest.mark.parametrize(
    "value", ["", "x" * 192, "a/b", "line\nbreak", "tab\there", "nul\x00", "c1\x85", ".", ".."]
)
def test_ids_that_cannot_be_addressed_in_a_url_are_refused(value):
    assert external_id_problem(value)


@pytest.mark.parametrize("value", ["cust-1", "x" * 191, "ünïcødé 名前", "a.b", "...", "\u200b"])
def test_other_ids_are_accepted(value):
    assert external_id_problem(value) is None


def test_endpoint_names_cannot_be_order_ids():
    assert order_id_problem("batch")
    assert external_id_problem("batch") is None
