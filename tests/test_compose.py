"""Composing propositions from the model's slots: a sentence only from a span that is really a thing on screen."""

from __future__ import annotations

import pytest

from gum.chat import user_turns
from gum.compose import RELATIONS, compose, compose_document, compose_signature
from gum.wellformed import problems

SCREEN = "QuickBooks Online - Sweet Crumb Bakery\nDeposits: Restaurant Depot refund $412.50\nSofia Lindqvist"


def test_every_relation_composes_a_well_formed_sentence_about_the_user():
    for relation in RELATIONS:
        # a skill, not a name; a tool or a piece of work, not a company
        span = {"is learning": "Spanish", "uses": "QuickBooks Online", "works on": "Spring Fair Flyer",
                "writes": "Spring Fair Flyer", "does": "Spring Fair Flyer"}.get(relation, "Sweet Crumb Bakery")
        made, why = compose("Grace", span, relation, "user",
                            SCREEN + "\nbooked order application owner\nSpanish lesson 4\nSpring Fair Flyer")
        assert made is not None, why
        assert made.text.startswith("Grace ") and problems(made.text, "Grace") == [], made.text


def test_an_apps_first_page_is_the_app():
    made, _ = compose("Tomas", "Chatter Home", "uses", "user", "Chatter Home\n#general  #random", app="Chromium",
                      window="Chatter Home - Chromium")
    assert made.text == "Tomas uses Chatter"
    made, _ = compose("Aisha", "Lincoln Middle School", "uses", "user", "Lincoln Middle School - 7th Grade Science",
                      app="Chromium", window="Permission slip - Google Docs")
    assert made is None  # a school, not a tool and not a page


def test_learning_shows_on_screen_as_a_course_a_lesson_or_practice():
    made, why = compose("Tomas", "Gumdeskovi", "is learning", "user", "tomas@Gumdeskovi ~ $ ls\nnotes.md")
    assert made is None and "nothing in the evidence" in why
    assert compose("Tomas", "Spanish", "is learning", "user", "Duolingo - Spanish, unit 3")[0] is not None


def test_the_span_must_be_in_the_evidence_word_for_word():
    assert compose("Grace", "QuickBooks Online", "uses", "user", SCREEN)[0].text == "Grace uses QuickBooks Online"
    made, why = compose("Grace", "Xero", "uses", "user", SCREEN)
    assert made is None and "not in the evidence" in why


@pytest.mark.parametrize("span, reason", [
    ("Sofia Lindqvist", "names the user"),
    ("Marcus Lee Resume Stripe _v3 - Google Docs", "title"),
    ("resume_v3 | Google Docs", "title"),
    ("I'm doing kickboxing", "speech"),
    ("the app", "nothing in particular"),
    ("$412.50", "digits"),
])
def test_a_name_a_title_a_line_of_speech_or_a_vague_word_is_refused(span, reason):
    made, why = compose("Sofia Lindqvist", span, "works on", "user", SCREEN + "\nI'm doing kickboxing\nthe app")
    assert made is None and reason in why


def test_a_copied_title_is_cut_to_the_part_that_names_a_thing():
    made, _ = compose("Grace", "QuickBooks Online - Chrome", "uses", "user", SCREEN + "\nQuickBooks Online - Chrome")
    assert made.text == "Grace uses QuickBooks Online"


def test_a_file_name_is_not_a_thing_the_user_relates_to():
    made, why = compose("Grace", "restaurant_depot_0302.pdf", "writes", "user", "restaurant_depot_0302.pdf")
    assert made is None and "file name" in why


def test_the_users_own_words_are_said_of_them():
    made, _ = compose("the user", "my road bike", "owns", "user", "I've got my road bike and a commuter bike")
    assert made.text == "The user owns their road bike"
    made, _ = compose("Lena", "UX designer", "works as", "user", "Senior UX designer roles")
    assert made.text == "Lena works as a UX designer"


def test_in_a_chat_the_users_turns_are_told_apart_from_the_other_sides():
    chat = "Maria: Just started aerial yoga!\nJohn: Woah, Maria! I'm doing kickboxing.\nMaria: Cool, John."
    assert user_turns(chat, "John") == "Woah, Maria! I'm doing kickboxing."
    assert user_turns("User: which lock?\nAssistant: the Abus SmartX", "the user") == "which lock?"
    # Mail headers look like speakers but are not a chat.
    assert user_turns("Subject: Interview\nTo: Lena\nFrom: Priya", "Lena") is None


def test_a_span_that_names_the_app_is_a_tool_the_user_uses():
    made, _ = compose("Tom", "Gmail", "works on", "user", "Gmail - Firefox\nInbox", app="Gmail - Firefox")
    assert (made.text, made.kind) == ("Tom uses Gmail", "app")
    made, _ = compose("Tom", "Zotero", "uses", "user", "Zotero: library", app="Firefox")
    assert made.kind == "tool"  # named on the screen, not the app the user is in


def test_a_lone_heading_word_is_not_a_thing_but_a_name_in_a_sentence_is():
    sheet = "Shift | Station | Volunteer | Phone\nZotero: references"
    assert compose("Tom", "Shift", "works on", "user", sheet)[0] is None
    assert compose("Tom", "Zotero", "uses", "user", sheet)[0].text == "Tom uses Zotero"
    assert compose("Tom", "kickboxing", "does", "user", "Kickboxing")[0].text == "Tom does kickboxing"


def test_a_reply_prefix_or_a_cut_parenthesis_never_becomes_the_thing():
    mail = "Subject: Re: Q1 numbers\nYour order: Castle Deluxe bouncy castle (15x15 ft), Sat May 9"
    assert compose("Grace", "Re: Q1 numbers", "works on", "user", mail)[0] is None
    made, _ = compose("Tom", "Castle Deluxe bouncy castle (15x15 ft", "bought", "user", mail)
    assert made.text == "Tom bought Castle Deluxe bouncy castle"


def test_doing_a_named_thing_is_working_on_it():
    shell = "arjun@devbox: ~/src/ledger-api\nI do kickboxing"
    assert compose("Arjun", "ledger-api", "does", "user", shell)[0].text == "Arjun is working on ledger-api"
    assert compose("Arjun", "kickboxing", "does", "user", shell)[0].text == "Arjun does kickboxing"


# What a reader marked wrong in the full run after the slots landed (issue 12): each is refused, or reworded.
DESK = ("Shift Swap Board\nShift starts 5 pm\nThe Gothic Quarter in Barcelona is amazing\nExport Audio/Video\n"
        "Calendar event updated: standup\nVisited in Firefox\nnotes\norders\nflight tickets\nkickboxing tonight\n"
        "PostgreSQL\ngrafana.acme-shop.io\nRendered Track\nTaming Postgres failover on Kubernetes\nmy blog post\n"
        "Year 10 trip to the Science Museum\nBouldering at Boulderwelt with Jonas\nHelen Park\n"
        "Montserrat from Barcelona\nLearning Japanese\nBandcamp for Artists\nHacker News\n"
        "American Heart Association eLearning\n"
        "Auravia Audio Computers Phones Deals Help Cart\nAudio › Headphones › Over-ear\nInbox (2) Web Store\n"
        "1 gumdesk gumdesk 69 Dec\nSweet Crumb Bakery LLC\nThe campaign email goes out")


@pytest.mark.parametrize("span, relation, reason", [
    ("5 pm", "uses", "a time"),
    ("the Gothic Quarter in Barcelona is amazing", "uses", "a clause"),
    ("Export Audio/Video", "uses", "menu item"),
    ("Calendar event updated", "uses", "status"),
    ("Visited in Firefox", "uses", "status"),
    ("notes", "uses", "common noun"),
    ("orders", "uses", "common noun"),
    ("The campaign email", "uses", "common noun"),
    ("flight tickets", "does", "not an activity"),
    ("grafana.acme-shop.io", "is learning", "web address"),
    ("Year 10 trip to the Science Museum", "uses", "title or an event"),
    ("Bouldering at Boulderwelt with Jonas", "uses", "title or an event"),
    ("Helen Park", "is learning", "not a skill"),
    ("Montserrat from Barcelona", "is learning", "not a skill"),
    # From a live desk session (Chromium, Mousepad, xterm): navigation bars, breadcrumbs, counters, listings.
    ("Auravia Audio Computers Phones Deals Help Cart", "uses", "menu or navigation"),
    ("Audio › Headphones › Over-ear", "works on", "breadcrumb"),
    ("Inbox (2) Web Store", "uses", "counter"),
    ("1 gumdesk gumdesk 69 Dec", "works on", "repeats a word"),
])
def test_a_time_a_clause_a_button_a_status_line_or_a_common_noun_is_not_a_thing_the_user_relates_to(
        span, relation, reason):
    made, why = compose("Tomás", span, relation, "user", DESK, app="Firefox")
    assert made is None and reason in why, (made, why)


def test_what_the_model_says_the_user_writes_is_a_text_or_else_something_they_work_on():
    assert compose("Sam", "Rendered Track", "writes", "user", DESK)[0].text == "Sam is working on Rendered Track"
    assert compose("Sam", "my blog post", "writes", "user", DESK)[0].text == "Sam writes their blog post"
    talk = compose("Tomás", "Taming Postgres failover on Kubernetes", "writes", "user", DESK)[0]
    assert talk.text == "Tomás is working on Taming Postgres failover on Kubernetes"


def test_an_activity_and_a_named_tool_still_compose():
    assert compose("Tomás", "kickboxing", "does", "user", DESK)[0].text == "Tomás does kickboxing"
    assert compose("Tomás", "PostgreSQL", "uses", "user", DESK)[0].text == "Tomás uses PostgreSQL"
    assert compose("Tomás", "Shift Swap Board", "uses", "user", DESK)[0] is not None
    assert compose("Tomás", "Bandcamp for Artists", "uses", "user", DESK)[0] is not None
    assert compose("Tomás", "Hacker News", "uses", "user", DESK)[0] is not None  # a site, not a paper
    assert compose("Tomás", "American Heart Association eLearning", "uses", "user", DESK)[0] is not None
    assert compose("Tomás", "Japanese", "is learning", "user", DESK)[0].text == "Tomás is learning Japanese"
    code = "Go\nsettle.rs - ledger-api"
    assert compose("Arjun", "Go", "works on", "user", code)[0].text == "Arjun is working on Go"
    assert compose("Arjun", "settle.rs", "works on", "user", code)[0].text == "Arjun is working on settle.rs"


# What a reader marked junk in the full runs of both embedded models (0.5B and 1.5B) and in the live desk
# session after them (xterm's `ls -l`, a Markdown heading, OCR of a terminal title, a job posting).
JUNK = ("January 2026\nApril 2026\nWednesday 7pm\nMay 14\nFeed\nmy Schedule\nSchool\ntotal 16\n## Summary\n"
        "PTrermvay-raterimit\nSenior Platform Engineer - Kestrel Robotics\nSweet Crumb Bakery LLC")
# What a reader marked junk in the full eval at d040a99: a person, someone's event, an edition, a feature or a
# line of a message as the thing.
MESSAGES = ("From: Helen Park (Head of Analytics)\nTo: Omar Haddad\nLucia's quinceanera\nSpring Fair 2026\n"
            "Abus SmartX with GPS tracking\nThanks Tom, see you Friday\nHi Dr. Okafor, thanks\nMy Library > Collection\n"
            "Booked with Sakura Travel Agency\nOffice: Outlook\nRequirements: Go, Rust or Python\n"
            "UX Designer, Pinecrest Bank (2021-2025)\nEastside Community Orchestra rehearsal\n"
            "Maplewood District News: School board elections")


@pytest.mark.parametrize("span, relation, reason", [
    ("January 2026", "works on", "a time or a day"),  # a calendar's month heading
    ("April 2026", "works on", "a time or a day"),
    ("Wednesday 7pm", "plans", "a time or a day"),
    ("May 14", "goes to", "a time or a day"),
    ("Feed", "works on", "nothing in particular"),  # a site's navigation
    ("their Schedule", "works on", "nothing in particular"),
    ("School", "works at", "nothing in particular"),
    ("total 16", "works on", "nothing in particular"),
    ("Summary", "is learning", "nothing in particular"),
    ("PTrermvay-raterimit", "uses", "OCR garbage"),
    ("Kestrel Robotics", "uses", "a company or an organization"),
    ("Sweet Crumb Bakery LLC", "uses", "a company or an organization"),
    ("Sweet Crumb Bakery LLC", "works on", "a company or an organization"),  # a resume's or a ledger's line
    ("Pinecrest Bank", "works on", "a company or an organization"),
    ("Eastside Community Orchestra", "uses", "a company or an organization"),
    ("Maplewood District News", "uses", "a company or an organization"),  # an organization's paper
    ("Helen Park", "uses", "a person"),
    ("Lucia's quinceanera", "uses", "someone's thing"),
    ("Spring Fair 2026", "uses", "an edition"),
    ("GPS tracking", "uses", "a feature"),
    ("Thanks Tom", "works on", "a greeting or thanks"),
    ("Hi Dr. Okafor", "uses", "a greeting or thanks"),
    ("Collection", "works on", "nothing in particular"),
    ("Go, Rust or Python", "uses", "a list"),  # a job posting's requirements
    ("Kestrel Robotics", "owns", "nothing in the evidence says"),
])
def test_a_date_a_navigation_word_ocr_garbage_a_company_a_person_or_a_greeting_is_refused(span, relation, reason):
    made, why = compose("Maria", span, relation, "user", JUNK + "\n" + MESSAGES, app="XTerm")
    assert made is None and reason in why, (made, why)


def test_a_thing_with_a_date_in_its_name_is_still_a_thing():
    page = "Spring Fair 2026\nQ1 2026 taxes\nMay Day Parade\nLincoln Middle School"
    for span in ("Spring Fair 2026", "Q1 2026 taxes", "May Day Parade"):
        assert compose("Tom", span, "works on", "user", page)[0] is not None, span
    assert compose("Tom", "Lincoln Middle School", "works at", "user", page)[0].text == "Tom works at Lincoln Middle School"


def test_the_site_a_browser_title_names_after_the_page_is_used_not_worked_on():
    title = "Intro to Bouldering - YouTube - Chromium"
    page = f"{title}\nIntro to Bouldering\nYouTube"
    made, _ = compose("Priya", "YouTube", "works on", "user", page, app="Chromium", window=title)
    assert (made.text, made.kind) == ("Priya uses YouTube", "app")
    made, _ = compose("Priya", "Intro to Bouldering", "works on", "user", page, app="Chromium", window=title)
    assert made.text == "Priya is working on Intro to Bouldering"  # the page is what the user is on
    chat = "#platform-team | Fernway | Chatter - Chromium"
    made, _ = compose("Tomas", "Chatter", "interested in", "user", f"{chat}\nChatter", app="Chromium", window=chat)
    assert made.text == "Tomas uses Chatter"
    made, _ = compose("Aisha", "Lincoln Middle School", "uses", "user", "Lincoln Middle School - 7th Grade Science",
                      app="Chromium", window="Permission slip - Google Docs")
    assert made is None  # a school, not a tool and not a page  # from the live desk session: "is interested in Chatter"
    shop = "Checkout - Sakura Travel - Firefox"
    made, _ = compose("Ana", "Sakura Travel", "booked", "user", f"{shop}\nBooking confirmed", app="Firefox", window=shop)
    assert made.text == "Ana booked Sakura Travel"  # one books on a site


def test_names_with_inner_capitals_numbers_or_a_company_one_applies_to_still_compose():
    screen = "OAuth\nGitHub\nVisual Studio Code\nChapter 4\nSenior Platform Engineer - Kestrel Robotics - apply"
    for span in ("OAuth", "GitHub", "Visual Studio Code"):
        assert compose("Tomas", span, "uses", "user", screen)[0] is not None, span
    assert compose("Tomas", "Chapter 4", "works on", "user", screen)[0] is not None
    assert compose("Tomas", "Kestrel Robotics", "applied to", "user", screen)[0].text == "Tomas applied to Kestrel Robotics"


def test_what_one_books_with_an_event_one_plans_and_a_tool_in_a_message_still_compose():
    assert compose("Ana", "Sakura Travel Agency", "uses", "user", MESSAGES)[0].text == "Ana uses Sakura Travel Agency"
    assert compose("Tom", "Spring Fair 2026", "works on", "user", MESSAGES)[0] is not None
    assert compose("Omar", "Helen Park", "works with", "user", MESSAGES)[0].text == "Omar works with Helen Park"
    assert compose("Omar", "Outlook", "uses", "user", MESSAGES)[0].text == "Omar uses Outlook"


@pytest.mark.parametrize("window, app, user, sentence", [
    ("Spring Fair 2026 - Volunteer Sign-up", "Google Sheets - Firefox", "Tom",
     "Tom is working on Spring Fair 2026 (Volunteer Sign-up) in Google Sheets"),
    ("Spring Fair Flyer - Canva - Chromium", "Chromium", "Tom", "Tom is working on Spring Fair Flyer in Canva"),
    ("*~/postmortem-checkout-rate-limit.md - Mousepad", "Mousepad", "Tomas",
     "Tomas is working on postmortem-checkout-rate-limit.md in Mousepad"),
    ("Lena Fischer - Resume (UX) - Google Docs", "Google Docs - Chrome", "Lena",
     "Lena is working on Resume (UX) in Google Docs"),
    ("Northern Lights [Northern Lights.als] - Ableton Live 12 Suite", "Ableton Live 12", "Sam",
     "Sam is working on Northern Lights in Ableton Live 12"),
    ("Training plan: Half Marathon - Strava", "Strava", "Omar", "Omar is working on Training plan (Half Marathon) in Strava"),
])
def test_a_window_typed_in_names_the_document_and_the_tool_it_is_made_in(window, app, user, sentence):
    made = compose_document(user, window, app, keys=120)
    assert made.text == sentence and problems(made.text, user) == []


@pytest.mark.parametrize("window, app", [
    ("Re: Spring Fair planning - Inbox", "Gmail - Firefox"),  # a subject line
    ("Maplewood Class 2B parents", "WhatsApp"),  # a conversation
    ("#platform-team | Fernway | Chatter - Chromium", "Chromium"),
    ("arjun@devbox: ~/src/ledger-api", "Alacritty"),  # a shell prompt
    ("New Tab - Chromium", "Chromium"),
    ("Intro to rate limiting - Chromium", "Chromium"),  # a page, and no site to say which tool
    ("April 2026 - Calendar", "Google Calendar - Chrome"),  # a date
    ("Untitled document - Google Docs", "Google Docs - Chrome"),
    ("Edit album: Quiet Harbour - Bandcamp", "Bandcamp - Chrome"),  # a form's command
    ("Request Swap - ShiftWizard", "ShiftWizard - Chrome"),
])
def test_a_subject_line_a_chat_a_prompt_a_start_page_or_a_heading_names_no_document(window, app):
    assert compose_document("Tom", window, app, keys=500) is None


def test_an_address_typed_into_a_new_tab_is_not_work_on_the_page_it_opens():
    page = "Rate limiting with Redis - Redis Docs - Chromium"
    assert compose_document("Tomas", page, "Chromium", keys=40) is None
    assert compose_document("Tomas", page, "Chromium", keys=300) is not None
    assert compose_document("Tomas", "limiter.py - Mousepad", "Mousepad", keys=40).text == \
        "Tomas is working on limiter.py in Mousepad"


def test_what_the_user_only_read_they_read_about_rather_than_work_on():
    page = "Rate limiting with Redis\nSliding window log"
    assert compose("Tomas", "Sliding window log", "works on", "user", page, read_only=True)[0].text == \
        "Tomas is reading about Sliding window log"
    assert compose("Tomas", "Sliding window log", "works on", "user", page)[0].text == \
        "Tomas is working on Sliding window log"
    assert compose("Tomas", "Redis", "uses", "user", page, read_only=True)[0].text == "Tomas uses Redis"


@pytest.mark.parametrize("text, want", [
    ("Thanks,\nOmar Haddad, Data Analyst, Northwind Logistics", "Omar works as a data analyst at Northwind Logistics"),
    ("Best,\nOmar Haddad, Head of Analytics", "Omar works as head of analytics"),
    ("Omar Haddad, SRE, Datadog", "Omar works as an SRE at Datadog"),
    ("Hi Helen, yes - I'll present on Thursday. Omar Haddad, Data Analyst, Northwind Logistics",
     "Omar works as a data analyst at Northwind Logistics"),  # after the last sentence, on its line
    ("Omar, can you present the churn analysis on Thursday", None),  # a greeting, not a signature
    ("Helen Park, Head of Analytics, Northwind Logistics", None),  # someone else's
    ("Omar Haddad, see you there", None),  # a sentence, not a title
])
def test_a_signature_with_the_users_name_says_their_role_and_employer(text, want):
    made = compose_signature("Omar", text)
    assert (made.text if made else None) == want


def test_a_fields_label_is_no_thing_the_user_works_on():
    made, why = compose("Sam", "Rendered Track", "works on", "user", "Export Audio/Video\nRendered Track: Master",
                        app="Ableton Live 12", window="Northern Lights - Ableton Live 12 Suite")
    assert made is None and "label" in why


def test_a_sites_confirmation_page_is_no_thing_the_user_works_on():
    made, why = compose("Grace", "Payment Confirmation", "works on", "user", "IRS Direct Pay\nPayment Confirmation",
                        app="Chrome", window="Direct Pay - Payment Confirmation")
    assert made is None and "page" in why


def test_a_subject_in_a_list_of_mails_is_no_thing_the_user_works_on():
    line = "Maplewood District News: School board elections - candidate filing opens March 20"
    made, why = compose("Tom", "School board elections", "works on", "user", line, app="Gmail - Firefox",
                        window="Inbox")
    assert made is None and "list of mails" in why
    made, _ = compose("Tom", "School board elections", "works on", "user", line, app="Gmail - Firefox",
                      window="Re: School board elections - Gmail")
    assert made is not None  # one mail, opened: it may be
