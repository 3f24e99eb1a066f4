import pytest

from generation import failures


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("SAFETY.INPUT.TEXT", "moderation rejected the prompt"),
        ("INPUT_PREPROCESSING.SAFETY.TEXT", "moderation rejected the prompt"),
        ("SAFETY.INPUT.IMAGE", "rejected a keyframe image"),
        ("SAFETY.INPUT.THIRD_PARTY", "rejected the input"),
        ("SAFETY.OUTPUT.THIRD_PARTY", "rejected the generated video"),
        ("SAFETY.SOMETHING_NEW", "rejected this shot"),
        ("INTERNAL.BAD_OUTPUT.CODE01", "text in an image is a common cause"),
        ("ASSET.INVALID", "could not use a keyframe image"),
        ("THIRD_PARTY.UNAVAILABLE", "provider was unavailable"),
        ("INPUT_PREPROCESSING.INTERNAL", "could not prepare the input"),
        ("INTERNAL", "failed to generate this shot"),
        ("internal", "failed to generate this shot"),
    ],
)
def test_each_code_is_told_in_words_a_user_can_act_on(code, words):
    assert words in failures.user_message(code)


def test_a_prefix_matches_whole_segments_only():
    assert failures.user_message("SAFETYNET") == failures.UNKNOWN
    assert failures.user_message("INTERNALS") == failures.UNKNOWN


def test_an_unknown_or_missing_code_still_says_what_to_do():
    assert failures.user_message("") == failures.UNKNOWN
    assert failures.user_message(None) == failures.UNKNOWN
    assert "Retake" in failures.UNKNOWN
