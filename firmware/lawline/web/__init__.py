"""`lawline web`: the office's own page (status, duty rota, voicemails, cases, call records,
reports, settings), its own process beside the box, over HTTPS on the office LAN.

Built on Starlette + Jinja2, served by uvicorn: all three are pure Python (installable on
any Pi, armv7 or aarch64, without a compiler), small, well kept, and need no JavaScript
build step; the page is server-rendered HTML with one stylesheet. The box's data is read
through the box's own modules (records/, duty/, sync/, status.py) and changed only through
their transactions; accounts, sessions and the audit log live in their own SQLite file
(accounts.py).
"""
