"""Fuzzing the duty SMS commands (issue 9, point 9): any text a phone, a gateway or an
auto-responder sends parses to a Command or to None, fast, and a Command's case number is
every digit that was sent, never a part of them."""

from hypothesis import given, strategies as st

from lawline.records.messages import Command, parse_command

words = st.sampled_from(["结案", "办结", "完成", "R", "resolve", "DONE", "接案", "接", "A",
                         "转办", "F", "改派", "派", "ASSIGN", "ｒ", "结 案", "x", ""])
seps = st.sampled_from(["", " ", ":", "：", ",", "，", "#", "、", "-", "\u3000", "\n", "  "])
digits = st.text("0123456789", min_size=1, max_size=40)
odd = st.text(st.sampled_from("０１２３４５６７８９٠١٢³²¹߀𝟎 \u200f\u202e"), max_size=12)
long_text = st.one_of(st.text(max_size=300), st.text("结案 0123456789aA:", max_size=20000),
                      st.just("结" * 20000), st.just("1" * 20000), st.just(" " * 20000 + "R"))


def check(text):
    command = parse_command(text)
    assert command is None or isinstance(command, Command)
    if command is not None:
        assert command.case.isascii() and command.case.isdigit()
        assert command.state in ("resolved", "assigned", "referred", "reassigned")
        assert len(command.note) <= 200
    return command


@given(st.one_of(long_text, st.builds(lambda *p: "".join(p), words, seps, digits, seps,
                                      st.text(max_size=40)),
                 st.builds(lambda *p: "".join(p), words, seps, odd, digits, odd)))
def test_any_sms_is_a_command_or_none(text):
    check(text)


@given(words.filter(lambda w: w not in ("", "x", "结 案")), seps, digits,
       st.sampled_from(["", " 已回访", " thanks", "\n谢谢"]))
def test_the_case_number_is_every_digit_sent(word, sep, number, note):
    command = check(f"{word}{sep}{number}{note}")
    if command is not None:
        assert command.case == number
