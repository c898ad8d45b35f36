"""The well-formedness check `gum eval` counts junk with: each class on the kinds of junk readers found."""

from __future__ import annotations

import pytest

from gum.wellformed import CLASSES, problems


@pytest.mark.parametrize("text, user, junk", [
    ("Elena is a software application that allows users to manage and track sales data", "Elena", "user_as_thing"),
    ("Maria is a calendar app that allows users to create and manage their calendars.", "Maria", "user_as_thing"),
    ("Sofia Lindqvist", "Sofia", "fragment"),
    ("Dana Whitfield, RN", "Dana", "fragment"),
    ("Marcus Lee Resume Stripe _v3 - Google Docs", "Marcus", "fragment"),
    ("Omar likes this post from Northwind Logistics: We are hiring drivers in Rotterdam", "Omar", "fragment"),
    ("The user likes the idea of exploring abstract expressions. Can you give me some tips?", "the user",
     "copied_speech"),
    ("Lin Zhou: proposal - we move Atlas design files from Figma to Penpot, I'll pilot", "Lin Zhou", "copied_speech"),
    ("Tom sends a notification about the school board elections", "Tom", "screen_talk"),
    ("Maria sends ShiftWizard - Chrome between <observation> and </observation>.", "Maria", "screen_talk"),
    ("The user is visiting Barcelona for 4-5 days. This suggests they are planning a trip.", "the user",
     "over_length"),
    ("Priya wants to choose a harmonious font for the painting, choosing a font with", "Priya", "truncated"),
])
def test_each_kind_of_junk_readers_found_falls_in_its_class(text, user, junk):
    assert junk in problems(text, user)
    assert set(problems(text, user)) <= set(CLASSES)


@pytest.mark.parametrize("text, user", [
    ("Grace uses QuickBooks Online", "Grace"),
    ("John does kickboxing", "John"),
    ("The user owns three bikes", "the user"),
    ("Lena works as a UX designer", "Lena"),
    ("Priya has a deadline with her advisor Dr. Okafor on Friday", "Priya"),
    ("Arjun is debugging a deadlock in the ledger-api Rust service", "Arjun"),
])
def test_a_plain_true_sentence_about_the_user_is_well_formed(text, user):
    assert problems(text, user) == []
