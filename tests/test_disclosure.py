"""What the user says of themselves in a chat, said of them in the third person; nothing else of the chat."""

import pytest

from gum.disclosure import said_as_fact, said_of, statements
from gum.wellformed import problems


@pytest.mark.parametrize("said, statement", [
    ("I've got three bikes", "The user has three bikes"),
    ("I'm considering setting up a small art studio in my spare bedroom",
     "The user is considering setting up a small art studio in their spare bedroom"),
    ("I just helped out at an Easter Egg Hunt event last week", "The user just helped out at an Easter Egg Hunt event last week"),
    ("I collect vintage cameras", "The user collects vintage cameras"),
    ("I recently made a batch of pickled onions", "The user recently made a batch of pickled onions"),
    ("I'd love to volunteer at the food bank with my church group",
     "The user would love to volunteer at the food bank with their church group"),
    ("I watch the match with my brother and I pay for it myself",
     "The user watches the match with their brother and they pay for it themselves"),
])
def test_the_users_own_sentence_is_said_of_them(said, statement):
    assert said_of(said, "the user") == statement
    assert problems(statement, "the user") == []


def test_a_chat_turn_gives_its_statements_and_leaves_out_questions_requests_thoughts_and_reactions():
    turn = ("I'm planning a long ride this weekend and want to make sure I'm prepared. Can you suggest some tips "
            "on cleaning my chain?\nI love these ideas! I think I'll go with the Abus lock. Thanks for the help.\n"
            "By the way, I just finished my 5th project since starting painting classes, and I'm feeling "
            "accomplished!\nI tried it out last Tuesday. I've been thinking about her a lot lately.")
    assert statements(turn, "Dana") == [
        "Dana is planning a long ride this weekend",  # the first clause: the rest is for the assistant
        "Dana plans to go with the Abus lock",  # a decision on something named is a plan
        "Dana just finished their 5th project since starting painting classes",
    ]  # "I'm feeling accomplished": three words, a reaction; "it", "her": named before, not here


def test_at_most_a_few_statements_come_from_one_observation():
    turn = ". ".join(f"I visited city number {n} last year" for n in range(12))
    assert len(statements(turn, "Dana")) == 8


def test_a_decision_on_nothing_named_points_back_at_the_conversation():
    assert statements("I think I'll make the purchase in the next few months. I think I'll start by "
                      "decluttering the space.", "the user") == []


def test_what_the_user_asks_about_has_heard_of_or_will_try_is_not_said_as_a_fact():
    turn = ("I've heard that PCGS is more popular among error coin collectors. I'll consider NGC as well. "
            "Is Heritage any good? I booked it through Expedia.")
    assert [s for s in ("PCGS", "NGC", "Heritage", "Expedia") if said_as_fact(s, turn)] == ["Expedia"]
    # a decision: on something named it is a plan, on nothing named it points back at the conversation
    assert said_as_fact("Abus SmartX", "I think I'll go with the Abus SmartX lock.")
    assert not said_as_fact("the purchase", "I think I'll make the purchase in the next few months.")


def test_what_the_user_is_glad_to_have_done_is_what_they_did():
    turn = ("I'm glad I got to attend the Maundy Thursday service at the Episcopal Church, it was a beautiful and "
            "moving experience. I'm glad I got some helpful tips on varnishing.")
    assert statements(turn, "the user") == ["The user got to attend the Maundy Thursday service at the Episcopal Church"]


def test_a_purpose_is_no_request_and_need_is_not_a_past_tense():
    turn = ("I've been thinking about introducing some beneficial insects to my garden, like ladybugs or lacewings, "
            "to help control the aphid population. I need to pay the outstanding balance by March 1st. "
            "Can you help me with the paperwork? I need help with party theme ideas.")
    assert statements(turn, "the user") == [
        ("The user has been thinking about introducing some beneficial insects to their garden, like ladybugs or "
         "lacewings, to help control the aphid population"),
        "The user needs to pay the outstanding balance by March 1st",
    ]


def test_what_the_user_might_do_or_points_back_at_is_not_a_statement():
    turn = ("I might consider taking a day trip to Montserrat from Barcelona. I'm planning to experiment more "
            "with that technique. I want to make sure I'm prepared. I'm having trouble getting the texture right. "
            "I'm planning a trip to Japan.")
    assert statements(turn, "the user") == ["The user is planning a trip to Japan"]
