"""Unit tests for the screening engine's behaviour on hard cases."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.screening import CATEGORIES, Match, screen
from intake.screening.engine import screen_text as lexicon_screen


def _rules(text: str) -> list[str]:
    return [m.rule for m in screen(text).matches]


@pytest.mark.parametrize(
    "text",
    ["I'm not suicidal, I just need help with my housing",
     "not feeling suicidal or anything, just stressed",
     "no one is hurting me, I want help with my care plan",
     "He never hit her, we want to complain about the investigation"],
)
def test_negation_moves_hits_to_negated(text: str) -> None:
    r = screen(text)
    assert r.urgency == "routine"
    assert r.safeguarding == []
    assert r.negated, "the cancelled phrase is still reported"
    for n in r.negated:
        assert text[n.start : n.end] == n.phrase


def test_double_negation_is_not_negation() -> None:
    r = screen("cant stop thinking about hanging myself, got the belt ready")
    assert r.urgency == "emergency"


def test_negated_intent_with_passive_ideation_is_still_raised() -> None:
    r = screen("i dont want to kill myself but i dont want to be alive either")
    assert "suicide_self_harm" in r.safeguarding
    assert any(n.phrase == "kill myself" for n in r.negated)


@pytest.mark.parametrize(
    ("text", "typed"),
    [("im so sucidal right now", "sucidal"), ("had an overdoes of my sertraline", "overdoes"),
     ("suicidle thoughts and a bottle of pills", "suicidle")],
)
def test_misspellings_are_corrected_and_marked(text: str, typed: str) -> None:
    r = screen(text)
    assert "suicide_self_harm" in r.safeguarding
    fuzzy = [m for m in r.matches if m.rule.endswith("~fuzzy")]
    assert any(typed in m.phrase for m in fuzzy)


def test_ordinary_words_are_not_fuzzily_corrected() -> None:
    text = "we are changing the date, the roast was overdone and the fridge is overloaded"
    r = lexicon_screen(text, None)  # fuzzy correction is the lexicon's
    assert r.matches == []
    assert r.urgency == "routine"


@pytest.mark.parametrize(
    "text",
    ["kms tonight", "wanna die rn", "im gunna od tonite", "i want to kill myselffffff",
     "i wnt 2 die", "💊💊💊 goodbye"],
)
def test_text_speak_repeated_letters_and_emoji(text: str) -> None:
    assert screen(text).urgency == "emergency"


@pytest.mark.parametrize(
    "text",
    ["the waiting list is killing me", "I'd kill for a cup of tea", "my phone died, sorry",
     "i'm dying to know if my referral went through", "bored to death waiting for the OT",
     pytest.param(
         "Took my tablets this morning like the doctor said. What time is the meeting?",
         # A known false alarm of round 13, recorded rather than hidden: its model gives
         # p_emergency 0.214 (threshold 0.2) with p_urgent 0.04 from "took my" and "this
         # morning"; the lexicon reads it as routine. Requiring the urgent head to agree in a
         # long message was tried and read two emergencies of blind batches 36 and 38 as
         # routine, so it was not kept (README, round 13). Strict: passing again fails here.
         marks=pytest.mark.xfail(strict=True, reason="round 13 model: p_emergency 0.214")),
     ],
)
def test_non_risk_senses_stay_routine(text: str) -> None:
    assert screen(text).urgency == "routine"


@pytest.mark.parametrize(
    "text",
    ["I self harmed years ago but I'm doing well now, need help with a form",
     "We'd like to book your safeguarding adults training course",
     "Can you tell me what counts as financial abuse? I'm writing a policy."],
)
def test_past_and_information_requests_stay_routine(text: str) -> None:
    r = screen(text)
    assert r.urgency == "routine"
    assert r.safeguarding == []


@pytest.mark.parametrize(
    "text",
    ["took 30 paracetamol an hour ago", "800mg of quetiapine and vodka",
     "sorted my tablets for tonight", "I don't want to be here anymore and I've saved my meds"],
)
def test_method_and_plan_make_an_emergency(text: str) -> None:
    r = screen(text)
    assert r.urgency == "emergency"
    assert r.safeguarding == ["suicide_self_harm"]


def test_indirect_risk_is_raised() -> None:
    for text in ["don't want to be here anymore", "nobody would miss me"]:
        r = screen(text)
        assert r.urgency in ("urgent", "emergency")
        assert r.safeguarding == ["suicide_self_harm"]


@pytest.mark.parametrize(
    "text",
    ["My mum has bruises on her arms", "staff shout at residents at my dad's care home",
     "my husband hits me", "my cousin's boss keeps her passport",
     "scammers took my gran's savings"],
)
def test_third_party_and_actor_categories(text: str) -> None:
    r = screen(text)
    assert r.urgency == "urgent"
    assert r.safeguarding


def test_organisational_for_abuse_by_a_service() -> None:
    assert "organisational" in screen("staff shout at residents").safeguarding
    assert "domestic" in screen("my boyfriend hit me last week").safeguarding


@pytest.mark.parametrize(
    "text",
    ["my son was sectioned yesterday under section 3", "the tribunal is on Thursday",
     "they want to discharge my husband tomorrow", "I'm being evicted next week",
     "her best interests meeting is on monday"],
)
def test_statutory_cues_raise_urgency_without_a_category(text: str) -> None:
    r = screen(text)
    assert r.urgency == "urgent"
    assert r.safeguarding == []
    assert any(m.category == "statutory" for m in r.matches)


def test_statutory_not_imminent_or_past_is_routine() -> None:
    assert screen("I had a section 2 three years ago").urgency == "routine"
    assert screen("I have a best interests meeting in 3 months").urgency == "routine"


@pytest.mark.parametrize(
    "text",
    ["dont text back he checks my phone", "please do not reply to this number",
     "Please do not call my mobile, it isn't safe."],
)
def test_unsafe_contact(text: str) -> None:
    assert screen(text).safe_to_contact is False


@pytest.mark.parametrize(
    "text", ["No need to reply, thanks", "please don't call before 10am I work nights"]
)
def test_contact_preferences_are_not_safety_cues(text: str) -> None:
    assert screen(text).safe_to_contact is True


def test_language_without_a_word_list_is_flagged_for_review_and_not_routine() -> None:
    r = screen("Salaan, waxaan u baahanahay caawimaad, hooyaday waa jiran tahay.")  # Somali
    assert r.language == "so"
    assert r.needs_review is not None and "so" in r.needs_review
    assert r.urgency != "routine"


@pytest.mark.parametrize(("text", "lang"), [
    ("Mój mąż mnie teraz bije, zamknęłyśmy się w łazience z dzieckiem", "pl"),
    ("Maz mnie bije teraz, zamknelysmy sie w lazience", "pl"),
    ("Mujhe ab aur nahi jeena. Maine 20 goliyan kha li hain", "ur"),
    ("زوجي يضربني الآن، أغلقنا على أنفسنا في الحمام", "ar"),
    ("Mi marido me está pegando ahora mismo, tengo miedo, ayuda", "es"),
    ("O meu marido está a bater-me agora, socorro", "pt"),
    ("Soțul meu mă bate acum, ajutor", "ro"),
    ("Dw i ddim eisiau byw rhagor. Dw i wedi cymryd y tabledi i gyd", "cy"),
    ("আমি আর বাঁচতে চাই না, সব ওষুধ খেয়ে ফেলেছি", "bn"),
    ("ਮੈਂ ਹੁਣ ਹੋਰ ਨਹੀਂ ਜੀਣਾ ਚਾਹੁੰਦਾ, ਸਾਰੀਆਂ ਗੋਲੀਆਂ ਖਾ ਲਈਆਂ", "pa"),
])
def test_emergencies_in_community_languages_are_emergencies(text: str, lang: str) -> None:
    r = screen(text)
    assert r.urgency == "emergency", r
    assert r.language == lang
    assert any(m.rule.startswith(lang + ".") or m.rule.startswith(("ur.", "pa."))
               for m in r.matches)


def test_routine_message_in_a_screened_language_is_not_raised() -> None:
    r = screen("Dzień dobry, czy możemy przełożyć spotkanie na wtorek o dziesiątej? Dziękuję")
    assert r.language == "pl"
    assert r.urgency == "routine"


def test_english_is_not_flagged() -> None:
    r = screen("Hi, can I get an advocate for my PIP assessment next month?")
    assert r.needs_review is None
    assert r.language == "en"


def test_offsets_point_into_the_original_text() -> None:
    text = "Honestly... I wanna DIEEEE tonight!!! 💊💊"
    r = screen(text)
    assert r.urgency == "emergency"
    for m in r.matches:
        assert isinstance(m, Match)
        assert text[m.start : m.end] == m.phrase
    assert any("DIEEEE" in m.phrase for m in r.matches)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_valid_result(text: str) -> None:
    r = screen(text)
    assert r.urgency in ("emergency", "urgent", "routine")
    assert r.safeguarding == sorted(set(r.safeguarding))
    assert set(r.safeguarding) <= set(CATEGORIES)
    for m in r.matches:
        assert 0 <= m.start <= m.end <= len(text)
        assert text[m.start : m.end] == m.phrase
    json.dumps(r.to_dict())


def test_result_dict_shape() -> None:
    d = screen("my husband hit me").to_dict()
    assert set(d) == {"urgency", "safeguarding", "matches", "negated", "safe_to_contact",
                      "needs_review", "language"}
    assert set(d["matches"][0]) == {"category", "phrase", "start", "end", "rule"}


# --- broader families and mechanisms added after held-out batch 2 -------------------------

@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("my girlfriend bit me last night", "physical"),
        ("her partner keeps knocking her about", "domestic"),
        ("the night staff tied him to the chair", "physical"),
        ("his nephew has been using his bank card", "financial"),
        ("the carers haven't turned up since tuesday", "neglect"),
        ("they left her in her own urine all morning", "neglect"),
        ("he makes me sleep in the back of the van and takes all my wages", "modern_slavery"),
        ("she keeps being abused and i dont know what to do", "psychological"),
    ],
)
def test_families_generalise(text: str, category: str) -> None:
    result = screen(text)
    assert category in result.safeguarding
    assert result.urgency in ("urgent", "emergency")


def test_fallback_category_gives_way_to_a_specific_one() -> None:
    """'Being abused' alone gets a category; with a named kind it adds no guessed one."""
    # (the lexicon's own result: the model may lower this bare line, and a routine result
    # carries no category)
    assert lexicon_screen("a woman at my church is being abused").safeguarding == \
        ["psychological"]
    # a family member named: the family rule makes it domestic, and the guess is dropped
    assert screen("my sister is being abused").safeguarding == ["domestic"]
    named = screen("my sister is being abused, he took her bank card")
    assert "financial" in named.safeguarding
    assert "psychological" not in named.safeguarding


@pytest.mark.parametrize(
    "text",
    [
        "gonna take every tablet in the house",
        "mum is on the floor and the carers never came this morning",
        "my sons saying hes going to hang himself",
    ],
)
def test_new_emergency_rules(text: str) -> None:
    assert screen(text).urgency == "emergency"


@pytest.mark.parametrize(
    "text",
    [
        "i pulled my back lifting mum so cant come in",
        "i have 3 missed calls from your office",
        "because of my disability i need someone to come with me",
        "my dad fell and hit his head, we want to complain about the discharge",
        "she had a suicide attempt in 2015 and is well now, needs help with benefits",
        "i go hungry at the end of the month since my pip stopped",
        "he won't let anyone help him with his garden",
        "i am going to take all my paperwork to the meeting",
    ],
)
def test_family_hard_negatives_stay_routine(text: str) -> None:
    """The lexicon's own context handling; the model's second opinion is tested below."""
    assert lexicon_screen(text, None).urgency == "routine"


def test_offsets_point_at_what_was_typed() -> None:
    text = "Hi. My  Partner HIT me and im scared, kms"
    result = screen(text)
    assert result.matches
    for m in result.matches:
        assert text[m.start:m.end] == m.phrase
    assert any(m.phrase == "kms" for m in result.matches)


# Families added after batch 3 (each phrased differently from any labelled set).
@pytest.mark.parametrize("text, rule", [
    ("gulped down the whole packet from the bathroom", "ingested_quantity"),
    ("ive left a note for my sister. forgive me", "farewell_final"),
    ("the rope is tied round the loft beam", "self.means_in_place"),
    ("im standing on the edge of the cliffs", "self.means_in_place"),
    ("she's unconscious and there are empty packets by the bed", "unconscious_after"),
    ("the 3 year old downstairs has been alone since last night", "child_alone_since"),
    ("he punched her and she's still lying on the floor", "harm_helpless"),
])
def test_new_emergency_families(text: str, rule: str) -> None:
    res = screen(text)
    assert res.urgency == "emergency"
    assert rule in {m.rule for m in res.matches}


@pytest.mark.parametrize("text", [
    "hi its pat about my review can you ring me back thank you and goodbye",
    "ive made up my mind, i want to complain about the ward. thanks and goodbye",
    "I'm tired of living in this damp flat, the council won't fix the mould",
    "sorry my phone was off, can you ring me tomorrow",
    "we said goodbye to our advocate last week, she was brilliant",
])
def test_farewell_words_in_ordinary_messages_stay_routine(text: str) -> None:
    assert lexicon_screen(text, None).urgency == "routine"


# Families added after batch 4 (each worded differently from any labelled set).
@pytest.mark.parametrize("text, rule", [
    ("my nan has alzheimers and wandered off from the home at 2am in her nightie",
     "vulnerable_exposed"),
    ("a kid about 5 is outside on his own in the snow with no coat", "child_exposed"),
    ("her boyfriend is off his face and the toddler is alone in the bath", "child_hazard_alone"),
    ("dad is on the kitchen floor, says he's been there all night", "down_for_a_time"),
    ("he strangles her when he's angry", "physical.strangulation"),
    ("by the time anyone gets this i'll have done it", "self.intent_family2"),
    ("no point carrying on. the hose is on the exhaust", "self.means_in_place"),
    ("she hit me with a chair, i think my arm is broken and i cant move", "harm_helpless"),
])
def test_batch4_emergency_families(text: str, rule: str) -> None:
    res = screen(text)
    assert res.urgency == "emergency"
    assert rule in {m.rule for m in res.matches}


@pytest.mark.parametrize("text, category", [
    ("the residents have their personal allowance kept by the manager", "financial"),
    ("i dont even see the point in getting up any more", "suicide_self_harm"),
    ("what's the point.", "suicide_self_harm"),
    ("mum was left in a soiled bed for hours", "neglect"),
    ("grandad has lost loads of weight since the new carers started", "neglect"),
])
def test_batch4_urgent_families(text: str, category: str) -> None:
    res = screen(text)
    assert res.urgency in ("urgent", "emergency")
    assert category in res.safeguarding


@pytest.mark.parametrize("text", [
    # the three known false alarms, and other wordings of the same ordinary things
    "my son is 9 and is at home alone after school for an hour",
    "my 11 year old is home alone for twenty minutes till i get home, is that ok",
    "the kids are always hungry after school lol",
    "my boys are always hungry when they get in from football haha",
    "what's the point of the review",
    "what is the point of filling in this form again",
    "dad has lost loads of weight on purpose, he's doing slimming world",
    "a cup of tea takes the edge off after a long shift",
    "is this an emergency line or should i ring 999",
    "I am scared about my assessment next week, please help me fill in the form",
    "complaint: the ambulance took 3 hours when mum fell last month, she's fine now",
])
def test_batch4_false_alarms_stay_routine(text: str) -> None:
    assert lexicon_screen(text, None).urgency == "routine"


def test_ordinary_sense_is_reported_as_negated() -> None:
    res = screen("the kids are always hungry after school lol")
    assert res.negated and not res.matches


@pytest.mark.parametrize("text", [
    "i've um taken all my er tablets",
    "i i want to um kill myself",
    "ov3rdosed on my insulin 1hr ago",
    "i carnt stop bleading from my arm",
])
def test_voicemail_fillers_repeats_and_typed_digits(text: str) -> None:
    assert screen(text).urgency == "emergency"


def test_typed_digits_map_back_to_what_was_typed() -> None:
    text = "ov3rdosed on my insulin"
    res = screen(text)
    assert any(m.phrase.startswith("ov3rdosed") for m in res.matches)
    for m in res.matches:
        assert text[m.start:m.end] == m.phrase


def test_safety_net_raises_danger_with_distress_for_review() -> None:
    text = "er hi um its about my neighbour shes fallen and theres no answer please help"
    lexicon = lexicon_screen(text, None)
    assert lexicon.urgency == "urgent"
    assert lexicon.needs_review is not None and "fallen" in lexicon.needs_review
    res = screen(text)  # the model may raise it further; the lexicon's reason is kept first
    assert res.urgency in ("urgent", "emergency")
    assert res.needs_review is not None and res.needs_review.startswith(lexicon.needs_review)
    assert res.safeguarding == []


@pytest.mark.parametrize("text", [
    "please help me with my housing form",
    "my dad fell in the garden and hurt his knee, can someone help with a care assessment",
])
def test_safety_net_needs_both_danger_and_distress(text: str) -> None:
    res = screen(text)
    assert res.urgency == "routine"
    assert res.needs_review is None




# Round 2 of issue 13: kinds of fault, each tested by more than its example.
@pytest.mark.parametrize("text", [
    "staff at the care home restrain my dad every night and tie him to the chair",
    "the carers at mum's nursing home slapped her",
    "the night staff at my brother's unit shout at him and push him",
])
def test_abuse_by_staff_of_a_family_member_is_organisational_not_domestic(text: str) -> None:
    r = lexicon_screen(text)
    assert "organisational" in r.safeguarding and "domestic" not in r.safeguarding


@pytest.mark.parametrize("text", ["my son hits me when he's drunk",
                                  "my brother throws things at me"])
def test_abuse_by_family_at_home_stays_domestic(text: str) -> None:
    assert "domestic" in lexicon_screen(text).safeguarding


@pytest.mark.parametrize("text", ["Re: overdose awareness poster",
                                  "Fwd: Domestic Abuse Act 2021 guidance",
                                  "Mental Capacity Act"])
def test_short_english_subject_lines_are_not_reviewed_as_foreign(text: str) -> None:
    r = lexicon_screen(text)
    assert r.needs_review is None and r.language in ("en", None)


def test_a_short_message_in_a_language_without_a_word_list_is_still_reviewed() -> None:
    r = lexicon_screen("aiuto mio marito mi picchia adesso")
    assert r.language == "it" and r.needs_review and r.urgency != "routine"


def test_another_languages_word_list_does_not_read_english() -> None:
    r = lexicon_screen("Attached: timesheet for March, including the tribunal prep for Ms K.")
    assert not any(m.rule.startswith("es.") for m in r.matches)
    assert any(m.rule.startswith("es.") for m in lexicon_screen("mañana tengo el tribunal y me "
                                                             "echan de casa").matches)


@pytest.mark.parametrize("text", [
    # an overdose taken by someone else, and the child cannot wake her (Welsh)
    "Mae Dad wedi cymryd llond llaw o'i dabledi ac dwi methu ei ddeffro fo",
    # taken abroad to be married tomorrow (Punjabi, Gurmukhi and Latin; Urdu)
    "ਮੇਰੇ ਘਰਦੇ ਕੱਲ੍ਹ ਮੈਨੂੰ ਵਿਆਹ ਲਈ ਇੰਡੀਆ ਲੈ ਜਾ ਰਹੇ ਨੇ",
    "mere ghar wale kal savere mainu viah layi pind lai ke ja rahe ne",
    "ابو کل مجھے پاکستان لے جا رہے ہیں میری شادی کر رہے ہیں",
    # a 14-year-old shut out at night by those who should keep them
    "my foster carer locked me out, im 14 and its 11pm",
])
def test_blind_batch8_emergency_kinds(text: str) -> None:
    """The kinds of emergency blind batch 8 showed the lexicon missing, in new words."""
    assert lexicon_screen(text).urgency == "emergency"


@pytest.mark.parametrize("text", [
    "i got locked out of my flat last night lol, im 17 and had to wait till 2am for my dad",
    "my 15 year old went out at night with her friends, is that ok",
    "ਮੇਰੇ ਭਰਾ ਦਾ ਵਿਆਹ ਅਗਲੇ ਸਾਲ ਹੈ, ਕੀ ਤੁਸੀਂ ਫਾਰਮ ਵਿੱਚ ਮਦਦ ਕਰ ਸਕਦੇ ਹੋ",
])
def test_not_emergencies_near_those_kinds(text: str) -> None:
    assert lexicon_screen(text).urgency != "emergency"


@pytest.mark.parametrize(("text", "category"), [
    ("the boys on the estate keep shouting cripple at my brother", "discriminatory"),
    ("a care worker makes jokes about muslims and my dad's prayer mat went in the bin",
     "discriminatory"),
    ("he has put an app on my phone and reads my messages, i cant go anywhere", "psychological"),
    ("my aunt says im useless every day and i'm not allowed my dinner", "psychological"),
    ("Agencja trzyma nasze dokumenty i płacą 3 funty na godzinę", "modern_slavery"),
])
def test_blind_batch8_category_kinds(text: str, category: str) -> None:
    """The kinds of category blind batch 8 showed missing, in new words."""
    assert category in lexicon_screen(text).safeguarding


@pytest.mark.parametrize("text", [
    "the rope's in the loft and nobody would miss me",
    "the knife's in my bag, tonight is the night, sorry for everything",
])
def test_a_word_then_apostrophe_s_reads_as_is(text: str) -> None:
    """"rope's" is "rope is": the means word must still be found (training set E)."""
    assert lexicon_screen(text).urgency == "emergency"


def test_a_possessive_family_word_stays_a_family_word() -> None:
    assert "cue.family" in lexicon_screen("my mum's carer takes her money").cues


@pytest.mark.parametrize(("text", "child"), [
    ("i am 14 and my stepdad hits me", True),
    ("my son 15 , in foster care, was restrained", True),
    ("a year 9 pupil told me her dad hits her", True),
    ("i am 5 minutes away from the ward", False),
    ("my son is 34 and lives with me", False),
])
def test_a_stated_age_under_18_is_a_child(text: str, child: bool) -> None:
    assert ("cue.child" in lexicon_screen(text).cues) is child


def test_signs_of_a_kind_name_it_but_raise_nothing_alone() -> None:
    """psychological.signs and discriminatory.signs are routine: a sign names the kind of
    abuse for a message raised by something else; alone it is a feature for the model."""
    r = lexicon_screen("they keep calling him a spacker on the bus")
    assert r.urgency == "routine" and r.safeguarding == ["discriminatory", "psychological"]


@pytest.mark.parametrize("text", [
    "Dzień dobry, mama jest w szpitalu od poniedziałku, czy mogę prosić o rzecznika?",
    "Mam pytanie od sąsiada o wizytę w przyszłym tygodniu",
])
def test_english_text_speak_does_not_read_another_language(text: str) -> None:
    """"od" is text-speak for "overdose" in English and "since"/"from" in Polish."""
    r = lexicon_screen(text)
    assert r.language == "pl" and r.urgency == "routine" and not r.safeguarding


def test_english_text_speak_still_reads_english() -> None:
    assert lexicon_screen("ive taken an od an hour ago").urgency == "emergency"


@pytest.mark.parametrize("text", [
    "shes back now. cant talk. the kids are asleep",
    "he's come back early, can't talk, he's downstairs",
])
def test_someone_back_and_the_writer_cannot_talk_is_an_emergency(text: str) -> None:
    """Round 5, from blind batch 11's kinds: the person who came back is the danger."""
    assert screen(text).urgency == "emergency"


@pytest.mark.parametrize("text", [
    "Hi it's Boots on Market Street, your prescription is ready to collect, we close at 8 tonight",
    "this is a reminder from Elm Tree Surgery, your appointment on Tuesday at 9.10 is confirmed,"
    " reply STOP to opt out",
])
def test_a_notice_is_not_raised_by_its_words(text: str) -> None:
    """model.is_notice: a pharmacy's or surgery's notice with nothing else in it stays routine
    ("tonight" alone once raised one to emergency)."""
    assert screen(text).urgency == "routine"


def test_a_notice_does_not_hide_a_disclosure() -> None:
    text = "your repeat prescription is ready to collect. ive taken all my tablets tonight"
    assert screen(text).urgency == "emergency"


def test_abuse_long_ago_told_now_is_not_happening_now() -> None:
    text = ("I was abused at a boarding school in the 1970s. I'm 61 now and in a good place, "
            "I'd like help with a compensation claim form")
    assert lexicon_screen(text).urgency != "emergency"


def test_a_farewell_in_arrangements_is_an_emergency() -> None:
    text = ("I won't need my appointments any more. I've arranged for the cat to go to my "
            "neighbour and left a letter with my brother. Everything's tidy. Take care of "
            "yourself.")
    assert lexicon_screen(text).urgency == "emergency"


@pytest.mark.parametrize("text", [
    "its Maureen... thanks for the help with the forms... ive had the lot, the whole weeks"
    " dosette box and the ones in the bathroom... i'm calm, just saying thank you",
    "I am on the bridge over the bypass. Not going back to the ward. I have written the letter"
    " for my son. That is all.",
])
def test_a_quiet_overdose_or_goodbye_is_an_emergency(text: str) -> None:
    """Round 6, from blind batch 12's kinds: an overdose told as "had the lot" of a blister
    pack or dosette box, and a place with a letter written."""
    assert lexicon_screen(text).urgency == "emergency"


@pytest.mark.parametrize("text", [
    "I was sectioned in 2018 and I'm well now, how do I ask for my records?",
    "This time last year I was in a very dark place; now I have a job. Thank you all.",
])
def test_a_dated_past_is_past(text: str) -> None:
    """Without the year or "this time last year" each of these is raised (a detention is
    urgent; "a very dark place ... now" reads as risk now)."""
    r = lexicon_screen(text)
    assert r.urgency == "routine" and r.negated


@pytest.mark.parametrize("text", [
    "do you support patients who are sectioned on the acute wards?",
    "if my wife is ever detained again, can we ask for the same advocate?",
    "next time he's sectioned I want someone there from the start",
    "section 4 of the policy covers restraint and seclusion",
    "the referral form asks whether the person is detained, what do I tick for a DoLS?",
    "great news, the tribunal discharged her section this morning, thanks for all your help",
    "the panel discharged his section on friday so you can close the referral",
])
def test_detention_asked_about_or_already_ended_is_not_a_statutory_clock(text: str) -> None:
    """Round 7 (blind batch 14, training set I): questions, hypotheticals, a form's or a
    policy's numbered section and an outcome already reached name a detention without one
    under way."""
    r = lexicon_screen(text)
    assert not any(m.category == "statutory" for m in r.matches), r.matches
    assert r.urgency == "routine"


@pytest.mark.parametrize("text", [
    "he was sectioned this afternoon and wants an advocate before the ward round",
    "she is detained under section 2 since last night and nobody has explained her rights",
    "they are discharging him from the ward tomorrow with no care at home",
])
def test_a_detention_or_discharge_under_way_is_still_statutory(text: str) -> None:
    r = lexicon_screen(text)
    assert r.urgency == "urgent"
    assert any(m.category == "statutory" for m in r.matches)


@pytest.mark.parametrize("text", [
    "been sat on the motorway bridge for ages now. cars look tiny",
    "im standing at the cliff top. sorry mum",
    "sitting by the railway tracks, cant do this anymore",
])
def test_being_at_a_high_place_or_the_tracks_now_is_an_emergency(text: str) -> None:
    assert lexicon_screen(text).urgency == "emergency"


def test_a_visit_to_a_bridge_long_past_is_not() -> None:
    assert lexicon_screen("we stood on the bridge years ago and watched the boats").urgency \
        == "routine"


def test_abuse_with_the_abuser_due_back_today_is_an_emergency() -> None:
    """Round 8 (blind batches 18 and 19): a school, a ward and a day centre each reported abuse
    with the person who did it due with the victim again that day, and the lexicon read
    urgent. The harm and the visit may be paragraphs apart (`harmer_due`)."""
    text = ("Our pupil (age 8) showed me a burn on her arm and said her mum held her hand on the "
            "iron.\n\nWe have told the MASH. Her mum is picking her up at 3pm today.")
    result = lexicon_screen(text, "email")
    assert result.urgency == "emergency"
    assert "harmer_due" in {m.rule for m in result.matches}
    # the same visit with the harm long past is no emergency
    past = "A carer was rough with my mum years ago. Her new carer is visiting at 6pm today."
    assert lexicon_screen(past, "sms").urgency == "routine"


@pytest.mark.parametrize("text", [
    "The MHA refresher will cover section 136, seclusion and restraint reporting.",
    "Watching EastEnders, the bit where he gets sectioned. Can we talk about my rights next week?",
])
def test_a_syllabus_or_a_programme_is_not_a_disclosure(text: str) -> None:
    assert lexicon_screen(text, "email").urgency == "routine"


@pytest.mark.parametrize("text", [
    "Cliff top at Beachy. Sorry I wasted your time with all this.",
    "been keeping my sleeping tablets back since october, theres enough now. tonight is when",
])
def test_a_place_with_a_farewell_or_a_stockpile_with_a_time_is_an_emergency(text: str) -> None:
    """Round 8, blind batch 22: "Bridge at ... Sorry I wasted your time" was read as routine,
    and tablets kept back for weeks to be taken "tonight" as urgent."""
    assert lexicon_screen(text, "sms").urgency == "emergency"


@pytest.mark.parametrize("text", [
    "The second opinion doctor is coming on Thursday about her ECT, can an IMHA see her first?",
    "Pre-proceedings meeting is next Tuesday and dad has a learning disability, he needs an "
    "advocate.",
])
def test_a_statutory_visit_or_meeting_within_days_is_urgent(text: str) -> None:
    assert lexicon_screen(text, "email").urgency == "urgent"


@pytest.mark.parametrize("text", [
    "sos. she's back",
    "please help they are back",
])
def test_a_bare_cry_beside_a_return_is_an_emergency(text: str) -> None:
    """Round 10, blind batch 24: "help. hes back." was read as routine (`back_cry`)."""
    result = lexicon_screen(text, "sms")
    assert result.urgency == "emergency"
    assert "back_cry" in {m.rule for m in result.matches}


@pytest.mark.parametrize("text", [
    "can you help please, she's back from the hospital on friday and needs a carer",
    "could someone help before he's back at college in september",
])
def test_an_ordinary_return_with_a_request_for_help_is_not(text: str) -> None:
    assert lexicon_screen(text, "sms").urgency != "emergency"


@pytest.mark.parametrize("text", [
    "two men keep booting our front door, mum's in a wheelchair, they call her a cripple",
    "someone is trying to break in the back, I'm upstairs with my nan",
])
def test_an_attack_on_the_home_under_way_is_an_emergency(text: str) -> None:
    assert lexicon_screen(text, "sms").urgency == "emergency"


def test_a_wish_to_die_told_with_another_verb_at_a_high_place_is_an_emergency() -> None:
    text = "my cousin is out on the balcony of the 9th floor flat, says he wants to sleep and die"
    assert lexicon_screen(text, "voice").urgency == "emergency"


@pytest.mark.parametrize("text", [
    "he attacked me on friday night. we are staying with my aunt now, can you help with housing",
    "been cutting again. i'm not going to do anything tonight but i need someone to talk to",
])
def test_now_at_a_safe_place_or_a_plan_denied_is_not_happening_now(text: str) -> None:
    """Round 10, blind batches 23 and 24: "now" after reaching safety, and "tonight" with a
    plan denied, made violence or risk to self read as happening now."""
    assert lexicon_screen(text, "sms").urgency == "urgent"


def test_violence_now_at_home_is_still_now() -> None:
    assert lexicon_screen("i'm at home now and he is punching me", "sms").urgency == "emergency"


@pytest.mark.parametrize("text", [
    "saw a documentary that reminded me of when i was detained, anyway see you monday",
    "We run a peer group for sectioned patients on Wednesdays - could an IMHA come along?",
])
def test_a_detention_in_the_past_or_of_a_group_is_not_a_statutory_clock(text: str) -> None:
    assert lexicon_screen(text, "sms").urgency == "routine"


def test_a_strategy_meeting_within_days_is_urgent() -> None:
    text = "Section 42 enquiry opened for Mr B, strategy meeting tomorrow. Can an IMCA attend?"
    assert lexicon_screen(text, "email").urgency == "urgent"


def test_short_day_names_and_appointment_read_as_english() -> None:
    result = lexicon_screen("cn u change my appt weds to thurs? work", "sms")
    assert result.language in ("en", None) and result.needs_review is None


@pytest.mark.parametrize("text", [
    "the sore on mums foot is going black and she is burning up, carers stopped coming tuesday",
    "grandad's leg wound has red streaks spreading up and he's shivering under three blankets",
])
def test_a_wound_with_signs_of_sepsis_is_an_emergency(text: str) -> None:
    """Round 10, training set L: NHS advice is 999 or A&E for suspected sepsis."""
    result = lexicon_screen(text, "sms")
    assert result.urgency == "emergency"
    assert "wound_infected" in {m.rule for m in result.matches}


def test_a_deep_sore_without_signs_of_sepsis_stays_urgent() -> None:
    text = ("The home never told us about dad's pressure sore, it is down to the bone. "
            "I want it reported.")
    assert lexicon_screen(text, "email").urgency == "urgent"


@pytest.mark.parametrize("text", [
    "my uncle has not eaten since saturday, he just lies there",
    "she's refusing drinking, 4 days now, the staff just write declined",
])
def test_not_eating_or_drinking_for_days_is_an_emergency(text: str) -> None:
    assert lexicon_screen(text, "sms").urgency == "emergency"


def test_not_eating_for_a_day_is_not() -> None:
    text = "he hasn't eaten since lunch, is that normal with a cold?"
    assert lexicon_screen(text, "sms").urgency != "emergency"


def test_things_handed_back_for_after_a_set_time_with_an_apology_is_an_emergency() -> None:
    text = ("can my key worker give my books to the library. won't need them after tonight. "
            "sorry for wasting your time")
    assert lexicon_screen(text, "sms").urgency == "emergency"


@pytest.mark.parametrize("text", [
    "they are sending dad home right now, 10pm, to an empty flat, he can't manage the stairs",
    "discharging nan tonight, transport booked, no carers until tuesday and she lives alone",
])
def test_sent_home_tonight_alone_and_unable_to_manage_is_an_emergency(text: str) -> None:
    """Round 11, blind batch 26 (`unsafe_discharge_tonight`)."""
    assert lexicon_screen(text, "sms").urgency == "emergency"


@pytest.mark.parametrize("text", [
    "they're discharging him tomorrow with no carers and he lives alone",
    "she was sent home at 10pm last night to an empty flat, the neighbour has her now",
])
def test_a_discharge_tomorrow_or_one_already_past_is_not_an_emergency(text: str) -> None:
    assert lexicon_screen(text, "sms").urgency != "emergency"


def test_sex_demanded_for_a_room_is_sexual_abuse() -> None:
    result = lexicon_screen("the man who rents me the room says i owe him sex for the rent", "sms")
    assert "sexual" in result.safeguarding


def test_a_calm_cancellation_with_a_decision_and_letters_is_an_emergency() -> None:
    text = ("Please cancel Friday, I won't be needing it. My decision is made and I have left "
            "letters for the boys on the table. Thank you for your kindness.")
    assert lexicon_screen(text, "email").urgency == "emergency"


@pytest.mark.parametrize("text", [
    "my nan is ninety odd and the carers are lovely, can she have easy read leaflets",
    "my dad says something odd happened with his pension letter, can someone explain it",
])
def test_odd_in_its_other_senses_is_not_an_overdose(text: str) -> None:
    assert lexicon_screen(text, "sms").urgency == "routine"


def test_odd_as_text_speak_is_still_an_overdose() -> None:
    assert lexicon_screen("just odd on my tablets in the park", "sms").urgency == "emergency"


def test_a_history_of_detention_is_not_a_statutory_clock() -> None:
    text = ("I'm well now but I've been sectioned three times, can you help me write an "
            "advance statement?")
    assert lexicon_screen(text, "email").urgency == "routine"


def test_intent_in_plain_words_with_means_is_an_emergency() -> None:
    """Round 12, blind batch 29: an email in BSL-shaped English stating a date and a rope was
    read as routine."""
    text = "Thank you for help. I decided finish my life next week. Rope is in my shed."
    assert lexicon_screen(text, "email").urgency == "emergency"


def test_to_be_with_the_dead_with_means_at_hand_is_an_emergency() -> None:
    text = ("Since Mum died Dad keeps saying he'll be with her soon. Today he counted out all "
            "his tablets on the kitchen table.")
    assert lexicon_screen(text, "email").urgency == "emergency"


def test_insulin_stopped_for_days_is_an_emergency() -> None:
    for text in ("stopped taking my insulin on saturday, 3 days now, whats the point",
                 "i've not been doing my insulin for four days"):
        assert lexicon_screen(text, "sms").urgency == "emergency"


def test_a_double_dose_by_mistake_and_drowsy_is_an_emergency() -> None:
    text = "i think mum took her evening pills twice by mistake, shes very drowsy and woozy"
    assert lexicon_screen(text, "sms").urgency == "emergency"


def test_drowsy_from_a_usual_dose_is_not() -> None:
    text = "my new tablets make me drowsy in the mornings, can I ask the GP to change them?"
    assert lexicon_screen(text, "sms").urgency != "emergency"


def test_a_missed_medicine_with_a_person_rigid_and_unable_to_swallow_is_an_emergency() -> None:
    text = "the home missed his parkinsons tablets since monday, now he is stiff and can't swallow"
    assert lexicon_screen(text, "sms").urgency == "emergency"
