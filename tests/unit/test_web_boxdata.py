"""The page follows the box when the box sets a damaged database aside (web/boxdata.py): a
case the office closes on the page after that goes into the new cases.db the box uses, never
into the copy kept in damaged/. Real SQLite files, the box's own set-aside."""

import sqlite3

from lawline import config as configuration
from lawline.records.office import Office
from lawline.sync import sqlitefile
from lawline.web.boxdata import BoxData

CALLER = "13812345678"


def _cfg(tmp_path):
    path = tmp_path / "lawline.toml"
    path.write_text(configuration.dump({
        "office": {"id": "test-county", "name": "测试县法律服务专线"},
        "spool": {"dir": str(tmp_path / "spool")},
    }), encoding="utf-8")
    return configuration.load(path)


def test_the_page_reopens_the_cases_the_box_began_anew(tmp_path):
    cfg = _cfg(tmp_path)
    page = BoxData(cfg)
    spool = cfg.spool_dir
    old = page.office.open_case("consultation", CALLER, notify_caller=False)
    assert page.fresh() is False                       # nothing changed: nothing reopened

    # the box, at its start, finds cases.db damaged: set aside, then a new one
    sqlitefile.set_aside(spool / "cases.db", spool / "damaged")
    assert page.fresh() is False                       # not there yet: keep the old for now
    box = Office.from_config(cfg, spool, page.outbox, damaged_dir=spool / "damaged")
    try:
        assert page.fresh() is True
        new = page.office.open_case("service_request", CALLER, notify_caller=False)
        assert box.cases.get(new.number).kind == "service_request"   # where the box reads
        [kept] = sqlitefile.set_aside_copies(spool / "damaged")
        con = sqlite3.connect(f"file:{kept}?mode=ro", uri=True)
        try:                                           # and not into the copy set aside
            assert con.execute("SELECT number, kind FROM cases").fetchall() == \
                [(old.number, "consultation")]
        finally:
            con.close()
    finally:
        box.cases.close()
        page.close()
