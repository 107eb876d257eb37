#!/usr/bin/env bash
# Installs what the box, the demo and the tests need on a fresh Debian 12 machine:
# Debian packages when missing (needs root, as on the box and in CI), then the virtualenv.
# Usage: tools/bootstrap.sh VENV [test]
set -euo pipefail
venv=${1:-.venv}
want_test=${2:-}

debs=(espeak-ng sox nginx openssl kamailio kamailio-tls-modules sip-tester libportaudio2)
# The office page's browser tests: Debian's Chromium (driven by Playwright; `playwright
# install` cannot download browsers here), CJK fonts so screenshots show Chinese, and
# systemd-analyze (systemd) for the unit checks.
# Playwright's own node (its driver) needs libatomic.so.1, which a minimal Debian lacks.
if [ "$want_test" = test ]; then debs+=(chromium fonts-noto-cjk systemd libatomic1); fi
# The suite runs again at other hours of the host's clock (tests/hours/test_any_hour.py).
if [ "$want_test" = test ]; then debs+=(faketime); fi
# The service unit under a real systemd (tests/systemd): a booted systemd-nspawn container
# whose Debian root mmdebstrap builds once into build/.
if [ "$want_test" = test ]; then debs+=(systemd-container mmdebstrap); fi
# The prefecture centre's DuckLake tests start a throw-away PostgreSQL 15 (centre/tests).
if [ "$want_test" = test ]; then debs+=(postgresql-15); fi
missing=()
for pkg in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py=${PYTHON:-python3}
# A bare Debian 12 has python3 but not its venv module (ensurepip): install it when missing.
if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "bootstrap: installing Debian package python3-venv"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "bootstrap: creating virtualenv $venv"
    "$py" -m venv "$venv" || { echo "bootstrap: python3 -m venv failed: apt-get install python3-venv"; exit 1; }
fi
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# The box package, and (for make demo / make test) the loopback line and test rig beside it,
# and the prefecture centre (centre/: never on a box).
if [ "$want_test" = test ]; then
    "$venv/bin/python" -m pip install -q -e . -e rig -e centre
else
    "$venv/bin/python" -m pip install -q -e .
fi
echo "bootstrap: ready ($venv)"
