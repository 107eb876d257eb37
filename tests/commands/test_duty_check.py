"""`lawline duty --check` names the rota row a barred number is on, as every rota reader
refuses it (the dial plan itself: tests/unit/test_dialplan.py)."""

from lawline import config


def test_every_rota_reader_refuses_barred_numbers_and_lawline_duty_check_names_the_row(
        tmp_path):
    from lawline.duty.roster import load_file, parse_shifts
    rota = tmp_path / "rota.csv"
    rota.write_text("weekday,shift,name,role,mobile\nmon,day,张律师,lawyer,07712345678\n"
                    "tue,day,王某,lawyer,12590123456\n", encoding="utf-8")
    # without a configured plan: only what no plan allows (another county's landline is
    # for the plan of the box that reads it)
    loaded = load_file(rota, parse_shifts(["day 08:30-17:30"]))
    assert loaded.errors == ["rota.csv row 3, column E (mobile): '12590123456' is refused by "
                             "the dial plan: a premium voice information service (1259X)"]
    cfg_path = tmp_path / "lawline.toml"
    cfg_path.write_text(config.dump({"spool": {"dir": str(tmp_path / "spool")}}),
                        encoding="utf-8")
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "lawline", "duty", "--config", str(cfg_path),
                          "--check", str(rota)], capture_output=True, text=True, timeout=60)
    assert "ERROR rota.csv row 2, column E (mobile): '07712345678' is refused by the dial " \
           "plan: not in the dial plan" in out.stdout, out.stdout + out.stderr
    assert "ERROR rota.csv row 3, column E (mobile): '12590123456' is refused" in out.stdout
