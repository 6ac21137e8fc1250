"""Coupon codes: unguessable, typable, read aloud without ambiguity, accepted however typed."""

import math
import re

import pytest

from rewards.codes import ALPHABET, GROUP, LENGTH, code_display, code_generate, code_normalise


def test_a_code_is_15_symbols_of_the_unambiguous_alphabet():
    code = code_generate()

    assert len(code) == 15 == LENGTH
    assert set(code) <= set(ALPHABET)


@pytest.mark.parametrize("confusable", ["0", "O", "1", "I", "L"])
def test_the_alphabet_has_no_symbol_that_reads_like_another(confusable):
    assert confusable not in ALPHABET


def test_the_alphabet_is_31_upper_case_letters_and_digits():
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert ALPHABET == ALPHABET.upper()
    assert ALPHABET.isalnum()


def test_a_code_carries_at_least_60_bits_of_randomness():
    assert LENGTH * math.log2(len(ALPHABET)) >= 60


def test_ten_thousand_codes_are_all_different_and_use_the_whole_alphabet():
    codes = [code_generate() for _ in range(10_000)]

    assert len(set(codes)) == 10_000
    # every symbol turns up: no position or symbol is left out of the draw
    assert set("".join(codes)) == set(ALPHABET)


def test_a_code_is_shown_in_groups_of_five():
    code = code_generate()

    shown = code_display(code)

    assert GROUP == 5
    assert re.fullmatch(r"[2-9A-Z]{5}-[2-9A-Z]{5}-[2-9A-Z]{5}", shown)
    assert shown.replace("-", "") == code


@pytest.mark.parametrize(
    "typed",
    [
        "ABCDE-FGHJK-MNPQR",
        "ABCDEFGHJKMNPQR",
        "abcde-fghjk-mnpqr",
        "abcdefghjkmnpqr",
        "AbCdE fGhJk MnPqR",
        " abcde - fghjk - mnpqr ",
        "ABCDE--FGHJK--MNPQR",
        "abcde_fghjk.mnpqr",
        "ABCDE\tFGHJK\nMNPQR",
    ],
)
def test_a_code_is_accepted_in_any_case_with_or_without_separators(typed):
    assert code_normalise(typed) == "ABCDEFGHJKMNPQR"


def test_a_displayed_code_normalises_back_to_itself():
    code = code_generate()

    assert code_normalise(code_display(code)) == code
    assert code_normalise(code_display(code).lower()) == code


@pytest.mark.parametrize("typed", ["", "   ", "---", None])
def test_nothing_typed_normalises_to_nothing(typed):
    assert code_normalise(typed) == ""
