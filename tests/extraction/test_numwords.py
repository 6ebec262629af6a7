from intake.extraction.numwords import normalise, spoken_emails, spoken_numbers_to_digits


def test_double_and_hundred() -> None:
    text = "call me on oh seven seven double oh nine hundred one two three."
    assert spoken_numbers_to_digits(text) == "call me on 07700900123."


def test_triple() -> None:
    assert spoken_numbers_to_digits("oh one six three two nine six oh triple five") == "01632960555"


def test_commas_inside_a_number_do_not_split_it() -> None:
    assert (
        spoken_numbers_to_digits("oh seven seven double oh, nine hundred, two one five")
        == "07700900215"
    )


def test_ordinary_prose_untouched() -> None:
    text = "no one listens, oh I see, one of the nurses"
    assert spoken_numbers_to_digits(text) == text


def test_tens_and_units() -> None:
    assert spoken_numbers_to_digits("I'm eighty three") == "I'm 83"


def test_spoken_email() -> None:
    assert spoken_emails("email me at raj dot mehta at example dot co dot uk") == (
        "email me at raj.mehta@example.co.uk"
    )


def test_typed_channels_only_rewrite_long_runs() -> None:
    assert normalise("I have two or three questions", "sms") == "I have two or three questions"
    assert normalise("oh seven seven double oh nine hundred one two three", "sms") == "07700900123"
