"""`make bench`'s table: the most lines at once with clean audio (issue 19.4), from what each
line's two parties heard (rig/lawline_rig/benchall.py)."""

from lawline_rig.benchall import clean_lines


def heard(slips=(), gaps=0):
    return {"clicks": 40, "slips": list(slips), "slipped_samples": sum(s for _, s in slips),
            "gaps": gaps}


def tried(*lines_per_count):
    return {str(len(lines)): {"lines": [{"slips": {"duty_hears": duty, "caller_hears": caller}}
                                        for duty, caller in lines]}
            for lines in lines_per_count}


def test_every_count_clean_gives_the_most_tried():
    clean = (heard(), heard())
    assert clean_lines(tried([clean], [clean] * 2, [clean] * 4)) == (4, 4)


def test_a_slip_or_a_lost_click_either_way_makes_the_count_not_clean():
    clean = (heard(), heard())
    slipped = (heard(), heard(slips=[(8000, 80)]))
    lost = (heard(gaps=1), heard())
    assert clean_lines(tried([clean], [clean] * 2, [clean] * 3 + [slipped])) == (2, 4)
    assert clean_lines(tried([clean], [lost, clean])) == (1, 2)
    assert clean_lines(tried([lost])) == (0, 1)


def test_no_lines_tried_gives_no_figure():
    assert clean_lines({}) is None
