"""`lawline check` on a spool whose databases were damaged reports it instead of crashing
(the damage itself and the box's start-up storage path: tests/unit/test_damaged_storage.py,
whose helpers this uses)."""

from lawline import config as configuration

from ..unit.test_damaged_storage import Start, damage, leave_voicemails, make_config, settle


def test_lawline_check_reports_a_damaged_database(tmp_path, capsys):
    from lawline import check
    cfg = make_config(tmp_path)
    spool = cfg.spool_dir
    first = Start(cfg)
    leave_voicemails(first, cfg)
    first.close()
    for name in ("outbox.db", "cases.db"):
        settle(spool / name)
    damage(spool / "outbox.db", "garbage")
    damage(spool / "cases.db", "truncated")
    path = tmp_path / "lawline.toml"
    path.write_text(configuration.dump({"spool": {"dir": str(spool)},
                                        "upstream": {"url": "https://127.0.0.1:9/0148"}}),
                    encoding="utf-8")

    class Args:
        config = str(path)
        no_modem = True
    code = check.main(Args())
    out = capsys.readouterr().out
    assert code == 1
    assert "[FAIL] storage: " + str(spool / "outbox.db") + " is damaged: it is not an " \
        "SQLite database" in out, out
    assert "[FAIL] storage: " + str(spool / "cases.db") + " is damaged" in out, out
    assert not (spool / "damaged").exists()     # the check moves nothing
    # once the box started, the check says what it kept
    Start(cfg).close()
    check.main(Args())
    out = capsys.readouterr().out
    assert "[FAIL] storage" not in out, out
    assert "[WARN] storage: 2 damaged database(s) kept in " + str(spool / "damaged") in out
