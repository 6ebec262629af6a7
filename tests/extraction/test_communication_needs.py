"""Communication needs (Accessible Information Standard) said in many ways and languages.

Each case is a phrasing written for this file (not taken from an evaluation set): the need
stated in plain English, in the community languages intake answers in (romanised and in their
own scripts), and the negations that must not raise a need.
"""

from __future__ import annotations

import pytest

from intake import communication
from intake.extraction import extract
from intake.extraction.preferences import accessibility_needs, interpreter_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("She needs someone who speaks Polish at the assessment.", "Polish"),
        ("Grandad only understands Gujarati, please arrange someone.", "Gujarati"),
        ("need a farsi interpreter for my brother pls", "Farsi"),
        ("Potrzebny jest tłumacz języka polskiego na wizytę.", "Polish"),
        ("Ammi ko Urdu interpreter chahiye, woh English nahi bolti", "Urdu"),
        ("ਮੇਰੇ ਦਾਦਾ ਜੀ ਸਿਰਫ਼ ਪੰਜਾਬੀ ਬੋਲਦੇ ਹਨ", "Punjabi"),
        ("আমার মা শুধু সিলেটি বলেন, একজন দোভাষী লাগবে", "Sylheti"),
        ("زوجتي تحتاج مترجم عربي للموعد", "Arabic"),
        ("Tata nu vorbește engleza, avem nevoie de un interpret de limba română.", "Romanian"),
        ("Mi abuela necesita un intérprete de español para la reunión.", "Spanish"),
        ("A minha avó só fala português.", "Portuguese"),
        ("Батькові потрібен український перекладач на зустріч.", "Ukrainian"),
        ("Aabbahay wuxuu u baahan yahay turjumaan Soomaali ah.", "Somali"),
        ("We need a BSL interpreter for the review.", "British Sign Language"),
    ],
)
def test_an_interpreter_need_names_its_language(text: str, language: str) -> None:
    assert interpreter_language(text) == language


def test_a_need_in_ones_own_language_is_for_that_language() -> None:
    # No language named: "I need an interpreter for Thursday's meeting", in Polish.
    text = "Dzień dobry, potrzebuję tłumacza na spotkanie w czwartek w sprawie mojej mamy."
    assert interpreter_language(text) == "Polish"


def test_no_english_with_no_language_is_a_need_with_the_language_unstated() -> None:
    fields = extract("My father doesn't speak English and has a tribunal next week.", "sms").fields
    assert fields["interpreter_language"] == communication.unstated_language()
    (need,) = communication.needs(fields)
    assert need.key == communication.INTERPRETER
    assert "not stated" in need.label


@pytest.mark.parametrize(
    "text",
    [
        "There is no need for an interpreter, Mum speaks Polish and English.",
        "He is Romanian but his English is fine, no interpreter needed.",
        "She doesn't need an interpreter.",
        "Ми добре говоримо англійською, перекладач не потрібен.",
        "No necesitamos intérprete, gracias.",
        "Please polish the wording of the complaint letter before it goes.",
        "I want to complain about my GP surgery's reception staff.",
    ],
)
def test_no_interpreter_need(text: str) -> None:
    assert interpreter_language(text) is None


@pytest.mark.parametrize(
    ("text", "need"),
    [
        ("can you send it in big writing, my eyes are bad", "large print"),
        ("Please use a larger font for the letters, 16pt.", "large print"),
        ("Proszę o listy dużą czcionką.", "large print"),
        ("¿Pueden mandarme la carta con letras grandes?", "large print"),
        ("براہ کرم خط بڑے حروف میں بھیجیں", "large print"),
        ("Could we have the leaflet in easy read format?", "easy read"),
        ("Anfonwch wybodaeth Hawdd ei Deall os gwelwch yn dda", "easy read"),
        ("Vă rog informații într-un format ușor de citit.", "easy read"),
        ("She needs things read out to her, she can't see print now.", "audio"),
        ("Could you send it as audio please?", "audio"),
        ("Is there a loop system at your office? I use hearing aids.", "hearing loop"),
        ("Czy w sali jest pętla indukcyjna?", "hearing loop"),
        ("I'm Deaf, no phone calls please, email me.", "text only (deaf)"),
        ("I lip-read, so please just text, don't ring.", "text only (deaf)"),
        ("Sou surda, só mensagens por favor.", "text only (deaf)"),
        ("میں بہرا ہوں، صرف میسج کریں", "text only (deaf)"),
        ("I'll be calling through Relay UK.", "relay uk"),
        ("Mum wants her daughter with her at meetings.", "support person present"),
        ("He needs a supporter present at the review.", "support person present"),
        (
            "Need someone to come with me to the housing meeting on Monday.",
            "support person present",
        ),
        ("Abbu chahte hain ke advocate saath ho meeting mein", "support person present"),
        ("I don't want to go to the review on my own.", "support person present"),
        ("Could one of you be there at the best interests meeting?", "support person present"),
        ("Mama chce, żeby ktoś od Państwa był z nią na spotkaniu.", "support person present"),
        ("A minha mãe quer que alguém a acompanhe à reunião.", "support person present"),
        ("Mae Dad isio rhywun i ddod gyda fe i'r cyfarfod.", "support person present"),
    ],
)
def test_a_need_said_in_many_ways(text: str, need: str) -> None:
    assert need in accessibility_needs(text)


@pytest.mark.parametrize(
    "text",
    [
        "Keep me in the loop about the hearing date please.",
        "He can't read braille, so not that.",
        "I accompanied him to A&E last night and they sent him home.",
        "My son is an advocate for disability rights and suggested I contact you.",
        "She is deaf in one ear but happy to talk on the phone.",
        "A pupil feels nobody listens to her at meetings. Could someone call me at school?",
        "He has asked for an advocate to support him at his tribunal next month.",
    ],
)
def test_no_false_alarm(text: str) -> None:
    found = set(accessibility_needs(text))
    assert not found & {"braille", "hearing loop", "support person present", "text only (deaf)"}
