# lawline: `make demo` runs the box end to end on the loopback line; `make test` runs the tests.
# Both install what they need first (Debian packages when missing, then a virtualenv).

VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= simcom-sim7600
PROMPTS := prompts/zh-CN
# Whole-call tests mostly wait on real-time audio (a whole run used 0.85 of the two cores'
# one), so test files run 5 at a time (each file keeps its own rig in one worker;
# tests/conftest.py lets a file's modem profiles run apart): 4 took 14.5 minutes, 6 made
# timing-bound line and switchboard tests fail now and then. PARALLEL= runs them one after
# the other.
PARALLEL ?= -n 5 --dist loadfile
# Every tier (DESIGN.md "Tests and benchmarks"): the pure unit tier, the line tier and its
# modem contract, sip, commands, sync, servers, scenarios, web, systemd, the any-hour guard,
# the rig's own tests, and the prefecture centre's where it is present.
TIERS   := tests rig/tests $(wildcard centre/tests)

.PHONY: all deps test-deps prompts demo test unit lint fuzz scenarios bench soak clean hil

all: prompts

$(VENV)/.deps: pyproject.toml rig/pyproject.toml centre/pyproject.toml tools/bootstrap.sh
	tools/bootstrap.sh $(VENV) test
	touch $@

deps: $(VENV)/.deps

# Render prompt audio that is missing (a recorded NAME.wav always wins).
prompts: deps
	$(PY) -m lawline prompts $(PROMPTS)

demo: prompts
	$(PY) -m lawline demo --profile $(PROFILE) --lines 2

# -rs: every skip says why in the summary (a container test skips only where no container
# can run, e.g. in a chroot; tests/systemd/hostcheck.py); -rfE names every failure at the end,
# -rR every real-time test that passed only at its second try (tests/conftest.py REAL_TIME);
# --durations: the slowest tests, to keep the whole under 15 minutes on two cores
test: prompts lint
	$(PY) -m pytest -q -rsfER --durations=15 $(PARALLEL) $(TIERS)

# Static checks, before any test runs: pyflakes' rules (an undefined name is a crash waiting
# in a path no test took; unused imports and variables), and the type checker, strict on the
# box (pyproject.toml [tool.mypy]).
lint: deps
	$(PY) -m ruff check --no-cache --select F --output-format concise firmware rig tests centre
	$(PY) -m mypy

# The pure tier (tests/unit: no processes, sockets, ptys, pjsua2 or real-time waits; its
# conftest guard fails a test that tries): seconds, and safe to run without the lock.
unit: deps
	$(PY) -m pytest -q tests/unit

# The property tests of every parser of outside input (tests/unit/test_fuzz_*.py, and the
# readers on a pty: tests/line/test_fuzz_ports.py), with fresh
# random examples and many more of them than `make test` runs (tests/conftest.py);
# failures are kept in .hypothesis/ and tried first next time. FUZZ_EXAMPLES=N per property.
FUZZ_EXAMPLES ?= 2000
fuzz: deps
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q \
		--hypothesis-show-statistics tests/unit/test_fuzz_*.py tests/line/test_fuzz_*.py

scenarios: prompts
	$(PY) -m pytest -q $(PARALLEL) tests/scenarios

# Hardware in loop (board/HIL.md): the modem contract and the same calls against two real
# modems, e.g.
#   make hil BOX_AT=/dev/lawline-at BOX_AUDIO=/dev/lawline-audio BOX_NUMBER=13800000001 \
#            CALLER_AT=/dev/ttyUSB7 CALLER_AUDIO=/dev/ttyUSB9 [BOX_PROFILE=quectel-ec25]
# Without ports every test skips and says what is missing.
BOX_PROFILE ?= simcom-sim7600
hil: prompts
	$(PY) -m pytest -q -rs tests/hil tests/line/test_contract.py tests/scenarios/test_calls.py \
		--box-at="$(BOX_AT)" --box-audio="$(BOX_AUDIO)" --box-number="$(BOX_NUMBER)" \
		--caller-at="$(CALLER_AT)" --caller-audio="$(CALLER_AUDIO)" \
		--caller-number="$(CALLER_NUMBER)" --box-profile="$(BOX_PROFILE)" \
		--caller-profile="$(CALLER_PROFILE)"

# Figures, not pass/fail (issue 19): every bench beside the bare pjsua2 pair of the same run,
# each figure absolute and as a ratio to it (a table, and bench-all.json); real time, so on a
# shared machine run it under the real-time lock. BENCH_ARGS: e.g. --quick, --skip web.
bench: prompts
	$(PY) -m lawline_rig.benchall $(BENCH_ARGS)

# An hour's bridged call with +-100 ppm of clock skew beside 1000 calls back to back on the
# other lines (rig/lawline_rig/soak.py); exits non-zero when a call failed or the box died.
# SOAK_ARGS: e.g. --seconds 300 --calls 100 for a short one.
soak: prompts
	$(PY) -m lawline_rig.soak $(SOAK_ARGS)

# The prefecture's coordination centre (centre/, README "The prefecture centre"): an S3
# server with generated records of 100 counties, ingested, and the page; and its figures
# (a year of 100 counties against DuckDB reading the raw JSON files with read_json).
.PHONY: centre-demo centre-bench
CENTRE_DAYS ?= 120
centre-demo: deps
	$(PY) -m lawline_centre demo --days $(CENTRE_DAYS)

# (its generation step runs first at nice 19; it holds the real-time lock only to measure)
centre-bench: deps
	$(PY) -m lawline_centre bench


# The Raspberry Pi image (README "The SD-card image", "Field updates"): as root on Debian 12;
# not in `make test`. Cached under build/ (wheel, chroots, base rootfs, development signing key);
# the long steps run at nice 19; each target installs the host packages it needs.
.PHONY: pjsua2-arm64 image image-test bundle update-test
QEMU_PACKAGES := qemu-system-arm u-boot-qemu mtools dosfstools libubootenv-tool openssh-client
pjsua2-arm64:
	nice -n 19 image/pjsua2-arm64.sh wheel
	flock /tmp/lawline-realtime.lock image/pjsua2-arm64.sh proof

image: prompts
	nice -n 19 image/pjsua2-arm64.sh wheel
	nice -n 19 image/build-image.sh all

image-test: prompts
	image/host-tools.sh $(QEMU_PACKAGES)
	flock /tmp/lawline-realtime.lock $(PY) tests/image/run_image_test.py --second-boot

# A signed RAUC bundle from the rootfs `make image` built (build/bundle/lawline-VERSION.raucb).
# RAUC_KEY, RAUC_CERT, RAUC_KEYRING: a vendor's own keys (README "Field updates").
bundle: prompts
	nice -n 19 image/pjsua2-arm64.sh wheel
	nice -n 19 image/build-bundle.sh

# Every failure of an update, in QEMU (tests/image/run_update_test.py): its test bundles are
# made first at nice 19, then each group of cases boots a fresh copy of the image under the
# real-time lock, one hold per group (a hold stays under 10 minutes; others run between).
UPDATE_TEST_GROUPS ?= wrong-key,unsigned,cut-check cut-write cut-held never-ready never-up \
	good,committed
update-test: prompts
	image/host-tools.sh $(QEMU_PACKAGES) rauc squashfs-tools e2fsprogs nginx
	nice -n 19 $(PY) tests/image/run_update_test.py --prepare-only
	rc=0; for group in $(UPDATE_TEST_GROUPS); do \
		flock /tmp/lawline-realtime.lock $(PY) tests/image/run_update_test.py --only $$group \
			|| rc=1; \
	done; exit $$rc

clean:
	rm -rf $(VENV) $(PROMPTS)/generated .pytest_cache
