"""The office page in Chromium: log-in and every page at phone width, roles, lock-out, CSRF,
no lost update, an expired session mid-form, rota upload, report downloads, the audit log."""

import json

import openpyxl

from .conftest import (CALLER, DUTY_MOBILE, login, shoot, wait_until, write_rota,
                       good_rota_rows)

PAGES = [("/", "状态"), ("/cases", "案件"), ("/voicemails", "留言"), ("/duty", "值班"),
         ("/calls", "通话记录"), ("/reports", "报表"), ("/settings", "设置"), ("/users", "账号"),
         ("/audit", "审计日志")]


def test_the_head_logs_in_and_every_page_renders_in_chinese_at_phone_width(office, context):
    case = office.open_case("service_request")
    page = context.new_page()
    login(page, office.page, "head")
    assert page.locator("header .who").inner_text().startswith("王主任")
    for path, title in PAGES:
        response = page.goto(office.page.url + path)
        assert response.status == 200, (path, page.content()[:500])
        assert page.locator("h1").inner_text() == title
        # a CJK font is installed and used: the screenshots show characters, not boxes
        assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '案件')")
        shoot(page, path.strip("/") or "status")
    page.goto(office.page.url + f"/cases/{case.number}")
    assert page.locator("#state").inner_text() == "新案件"
    shoot(page, "case")
    # the settings page masks the S3 access key (and never reads the secret file)
    page.goto(office.page.url + "/settings")
    assert "AKIDEXAMPLE0148" not in page.content() and "s3cret-value" not in page.content()
    assert "******" in page.content()
    assert page.locator("#check tr").count() > 3          # lawline check's lines


def test_a_clerk_never_sees_complaints(office, context):
    complaint = office.open_case("complaint")
    consultation = office.open_case("consultation")
    page = context.new_page()
    login(page, office.page, "clerk")
    page.goto(office.page.url + "/cases?state=all")
    listed = page.locator("table.cases").inner_text()
    assert consultation.number in listed and complaint.number not in listed
    assert "投诉" not in page.locator("select[name=kind]").inner_text()
    # a complaint's number is answered as a number that is no case: the clerk cannot tell
    free = str(int(complaint.number) + 500)
    response = page.goto(office.page.url + f"/cases/{complaint.number}")
    said = page.locator("#refused").inner_text().replace(complaint.number, "N")
    other = page.goto(office.page.url + f"/cases/{free}")
    assert response.status == other.status == 404
    assert said == page.locator("#refused").inner_text().replace(free, "N") == "没有案件 N。"
    assert page.goto(office.page.url + "/users").status == 403
    assert "账号" not in page.locator("nav").inner_text()
    # nor complaint voicemails, in the list or by their address
    heard = office.leave_voicemail("complaint")
    ordinary = office.leave_voicemail("consultation")
    page.goto(office.page.url + "/voicemails")
    assert page.locator(f"#vm-{ordinary}").count() == 1
    assert page.locator(f"#vm-{heard}").count() == 0
    assert "投诉" not in page.locator("select[name=box]").inner_text()
    assert page.goto(office.page.url + f"/voicemails/{heard}/audio").status == 404
    assert page.goto(office.page.url + f"/voicemails/{ordinary}/audio").status == 200
    # the head sees it, and that look is in the audit log
    head = context.browser.new_context(ignore_https_errors=True).new_page()
    login(head, office.page, "head")
    assert head.goto(office.page.url + f"/cases/{complaint.number}").status == 200
    head.goto(office.page.url + "/audit")
    assert "查看投诉" in head.locator("#audit").inner_text()
    head.context.close()


def test_five_wrong_passwords_lock_the_account_until_the_head_unlocks_it(office, context):
    # (the lock also ends by itself: tests/web/test_strangers.py)
    from lawline_rig.webpage import add_user
    add_user(office.config_path, "locky", "duty", "right-password-1")
    page = context.new_page()
    for attempt in range(5):
        login(page, office.page, "locky", "wrong-password")
    assert "暂时锁定" in page.locator("p.error").inner_text()
    login(page, office.page, "locky", "right-password-1")      # right, but locked
    assert "暂时锁定" in page.locator("p.error").inner_text()
    assert page.locator("h1").inner_text() == "登录"
    head = context.browser.new_context(ignore_https_errors=True).new_page()
    login(head, office.page, "head")
    head.goto(office.page.url + "/users")
    row = head.locator("#users tr", has_text="locky")
    assert "暂时锁定" in row.inner_text()
    row.locator("button:has-text('解锁')").click()
    head.wait_for_load_state()
    assert "锁定" not in head.locator("#users tr", has_text="locky").inner_text()
    head.context.close()
    login(page, office.page, "locky", "right-password-1")
    assert page.locator("h1").inner_text() == "状态"
    entries = [json.loads(r) for r in office.audit_items()]
    assert any(e["action"] == "account_locked" and e["target"] == "locky" for e in entries)


def test_a_form_without_its_csrf_token_is_refused(office, context):
    case = office.open_case()
    page = context.new_page()
    login(page, office.page, "head")
    page.goto(office.page.url + f"/cases/{case.number}")
    page.fill("#resolve textarea[name=note]", "已答复")
    # the token rides in the form's action (it is checked before the body is read)
    assert "csrf=" in page.locator("#resolve").get_attribute("action")
    page.evaluate("document.querySelector('#resolve').action = "
                  "document.querySelector('#resolve').action.split('?')[0]")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#resolve button")
    assert answer.value.status == 403
    assert "安全校验码" in page.locator("#refused").inner_text()
    assert office.office.cases.get(case.number).state == "new"


def test_a_case_resolved_by_sms_while_the_page_was_open_is_not_overwritten(office, context):
    case = office.open_case(owner=DUTY_MOBILE, owner_name="张律师", state="assigned")
    page = context.new_page()
    login(page, office.page, "head")
    page.goto(office.page.url + f"/cases/{case.number}")
    # meanwhile the duty lawyer replies by SMS, through the box's own command handler
    assert office.office.on_sms(DUTY_MOBILE, f"结案 {case.number}", "national") is True
    page.fill("#resolve textarea[name=note]", "我来结案")
    page.click("#resolve button")
    page.wait_for_load_state()
    message = page.locator("p.error").inner_text()
    assert "在您打开页面之后已被更改" in message and "您的操作没有执行" in message
    assert "张律师" in message
    history = office.office.cases.history(case.number)
    assert [h[1] for h in history].count("resolved") == 1
    assert all("我来结案" not in h[3] for h in history)
    shoot(page, "case-conflict")


def test_a_session_that_expired_mid_form_does_nothing_and_says_so(office, context):
    case = office.open_case()
    page = context.new_page()
    login(page, office.page, "head")
    page.goto(office.page.url + f"/cases/{case.number}")
    page.fill("#resolve textarea[name=note]", "已电话答复来电人")
    office.expire_sessions()
    page.click("#resolve button")
    page.wait_for_load_state()
    assert "登录已超时" in page.locator("#expired").inner_text()
    kept = page.locator(".kept").inner_text()            # what was typed, in words
    assert "办理结果" in kept and "已电话答复来电人" in kept and "seen" not in kept
    assert office.office.cases.get(case.number).state == "new"
    shoot(page, "session-expired")
    # logging in again goes back to the case, still open
    page.fill("input[name=name]", "head")
    page.fill("input[name=password]", office.page.password("head"))
    page.click("button:has-text('登录')")
    page.wait_for_load_state()
    assert page.url.endswith(f"/cases/{case.number}")
    assert page.locator("#state").inner_text() == "新案件"


def test_resolving_on_the_page_queues_the_callers_sms(office, context):
    case = office.open_case()
    page = context.new_page()
    login(page, office.page, "duty")
    page.goto(office.page.url + f"/cases/{case.number}")
    # duty staff follow the SMS rules on the page too: take a case before resolving it
    page.fill("#resolve textarea[name=note]", "已答复")
    page.click("#resolve button")
    page.wait_for_load_state()
    assert "请先回复：接" in page.locator("p.error").inner_text()
    page.click("#take button")
    page.wait_for_load_state()
    assert "已由您接手" in page.locator("#done").inner_text()
    page.fill("#resolve textarea[name=note]", "已答复，建议申请劳动仲裁")
    page.click("#resolve button")
    page.wait_for_load_state()
    assert "已结案" in page.locator("#done").inner_text()
    sms = page.locator("#sms").inner_text()
    assert CALLER in sms and "已办结" in sms and "已排队待发" in sms
    rows = [r for r in office.office.sms.rows(purpose="caller resolved")
            if r["case_number"] == case.number]
    assert len(rows) == 1 and rows[0]["number"] == CALLER


def test_a_rota_with_one_bad_cell_is_refused_naming_the_cell(office, context, tmp_path):
    before = office.rota.read_bytes()
    rows = good_rota_rows()
    rows[1] = rows[1][:4] + ("1390000abc",)          # row 3 of the sheet, column E
    bad = tmp_path / "十二月值班表.csv"
    write_rota(bad, rows)
    page = context.new_page()
    login(page, office.page, "clerk")
    page.goto(office.page.url + "/duty")
    page.set_input_files("#rota-upload input[type=file]", str(bad))
    page.click("#rota-upload button")
    page.wait_for_load_state()
    assert "有 1 处错误，值班表没有改变" in page.locator("#upload-error").inner_text()
    problems = page.locator("#upload-problems").inner_text()
    assert "第3行 E列（手机）" in problems and "1390000abc" in problems
    shoot(page, "duty-rota-refused")
    assert office.rota.read_bytes() == before
    # not a spreadsheet at all
    junk = tmp_path / "rota.xlsx"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n not a sheet")
    page.set_input_files("#rota-upload input[type=file]", str(junk))
    page.click("#rota-upload button")
    page.wait_for_load_state()
    assert "不是表格文件" in page.locator("#upload-error").inner_text()
    assert office.rota.read_bytes() == before
    # a good sheet replaces the rota in force; the page shows who is on next
    good = tmp_path / "新值班表.csv"
    rows = good_rota_rows()
    rows = [r[:2] + ("孙律师",) + r[3:4] + ("13900000003",) if r[1] == "night" else r
            for r in rows]
    write_rota(good, rows)
    page.set_input_files("#rota-upload input[type=file]", str(good))
    page.click("#rota-upload button")
    page.wait_for_load_state()
    assert "已启用新值班表" in page.locator("#upload-done").inner_text()
    assert "孙律师" in office.rota.read_text(encoding="utf-8")
    # each upload had a folder of its own (two clerks sending a rota.xlsx at once never
    # check each other's), and none is left behind, refused or taken
    assert list((office.spool / "web" / "uploads").iterdir()) == []
    with page.expect_download() as got:
        page.click("text=下载正在使用的值班表")
    assert "孙律师" in open(got.value.path(), encoding="utf-8").read()
    # a sheet over 2 MB: the browser shows the page's answer (not a reset connection), the
    # rota stays, and nothing of it is left in the temporary folder
    before = office.rota.read_bytes()
    huge = tmp_path / "全年值班表.csv"
    write_rota(huge, good_rota_rows() * 20000)
    assert huge.stat().st_size > 3 * 2 ** 20
    page.goto(office.page.url + "/duty")
    page.set_input_files("#rota-upload input[type=file]", str(huge))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#rota-upload button")
    assert answer.value.status == 413
    assert "太大" in page.locator("#refused").inner_text()
    assert office.rota.read_bytes() == before and office.temporary_files() == []


def test_reports_show_chart_and_table_and_download_as_csv_and_xlsx(office, context):
    office.open_case("urgent")
    page = context.new_page()
    login(page, office.page, "head")
    page.goto(office.page.url + "/reports?kind=month")
    assert page.locator("#chart-cases rect").count() > 0
    assert "紧急纠纷" in page.locator("#report-table").inner_text()
    with page.expect_download() as got:
        page.click("#csv")
    text = open(got.value.path(), encoding="utf-8-sig").read()
    assert text.startswith("category,name,calls") and "urgent" in text
    with page.expect_download() as got:
        page.click("#xlsx")
    assert got.value.suggested_filename.endswith(".xlsx")
    with open(got.value.path(), "rb") as f:
        sheet = openpyxl.load_workbook(f).active
        assert [c.value for c in sheet[1]][:3] == ["category", "name", "calls"]
        assert any(row[0].value == "total" for row in sheet.iter_rows(min_row=2))


def test_every_action_is_in_the_audit_log_and_goes_upstream_with_the_outbox(office, context):
    page = context.new_page()
    login(page, office.page, "clerk")
    wait_until(lambda: any(json.loads(r)["action"] == "login" and json.loads(r)["user"] ==
                           "clerk" for r in office.audit_items()), 10, "the login in the outbox")
    record = next(json.loads(r) for r in office.audit_items()
                  if json.loads(r)["user"] == "clerk")
    assert record["office"] == "test-county" and record["address"] == "127.0.0.1"


def test_the_head_adds_an_account_on_the_page_and_it_can_log_in(office, context):
    page = context.new_page()
    login(page, office.page, "head")
    page.goto(office.page.url + "/users")
    form = page.locator("#add-user")
    form.locator("input[name=name]").fill("zhao")
    form.locator("input[name=display]").fill("赵律师")
    form.locator("select[name=role]").select_option("duty")
    form.locator("input[name=mobile]").fill("13900000002")
    form.locator("input[name=password]").fill("zhao-password-1")
    form.locator("button").click()
    page.wait_for_load_state()
    assert "已新建账号 zhao" in page.locator("p.notice").inner_text()
    assert "值班人员" in page.locator("#users tr", has_text="zhao").inner_text()
    other = context.browser.new_context(ignore_https_errors=True).new_page()
    login(other, office.page, "zhao", "zhao-password-1")
    assert other.locator("header .who").inner_text().startswith("赵律师")
    other.context.close()
