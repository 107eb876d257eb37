"""The trunk over TLS with SRTP: Kamailio's tls module (kamailio-tls-modules) with a
certificate from a test CA that the test makes with openssl. The box checks the trunk's
certificate and name: the right CA registers, another CA is refused. Then one whole call over
TLS with mandatory SRTP to a duty phone that offers SRTP too."""

import subprocess
import sys

import pytest

from lawline import config as configuration

from ..conftest import run_call
from ..servers.kamailio import BOX_USER, PASSWORDS, Kamailio
from ..servers.trunk_rig import TrunkRig
from .test_trunk import ACCEPT, TONES, heard_caller, press_1_and_wait_for

pytestmark = pytest.mark.scenario


@pytest.fixture(scope="module")
def tls_trunk(tmp_path_factory):
    trunk = Kamailio(tmp_path_factory.mktemp("kamailio-tls"), tls=True)
    trunk.start()
    yield trunk
    trunk.stop()


def _probe(tmp_path, trunk, ca_file):
    secret = tmp_path / "trunk.password"
    secret.write_text(PASSWORDS[BOX_USER])
    secret.chmod(0o600)
    values = {"sip": {"port": 0}, "trunk": {
        "registrar": trunk.tls_registrar, "username": BOX_USER, "domain": "127.0.0.1",
        "password_file": str(secret), "transport": "tls", "ca_file": ca_file,
        "reply_timeout": 3.0}}
    path = tmp_path / "tls.toml"
    path.write_text(configuration.dump(values), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "lawline", "trunk", "--config", str(path)],
                          capture_output=True, text=True, timeout=30)


def test_tls_registration_checks_the_trunk_certificate(tls_trunk, tmp_path):
    good = _probe(tmp_path, tls_trunk, tls_trunk.tls["ca_cert"])
    assert good.returncode == 0, good.stdout + good.stderr[-2000:]
    assert good.stdout.strip().startswith(f"SIP trunk {tls_trunk.tls_registrar} registered"), \
        good.stdout
    assert "transport=TLS" in tls_trunk.log_text()
    bad = _probe(tmp_path, tls_trunk, tls_trunk.tls["other_ca"])
    assert bad.returncode == 1
    assert "unregistered:" in bad.stdout and "certificate" in bad.stdout, bad.stdout


def test_a_call_over_tls_with_srtp(tls_trunk, tmp_path_factory):
    rig = TrunkRig(tmp_path_factory.mktemp("trunk-tls"), tls_trunk, trunk_options={
        "registrar": tls_trunk.tls_registrar, "transport": "tls", "srtp": "mandatory",
        "outbound_proxy": f"sip:127.0.0.1:{tls_trunk.tls_port};transport=tls;lr",
        "ca_file": tls_trunk.tls["ca_cert"]})
    try:
        rig.start(box=False, duty=False)
        rig.phone(ACCEPT, "accept", "--srtp", "mandatory")
        rig.use(numbers=[ACCEPT])
        record = run_call(rig, press_1_and_wait_for, TONES[ACCEPT])
        assert record["outcome"] == "bridged" and record["bridged_to"] == ACCEPT, record
        assert f"INVITE for {ACCEPT} offers SRTP" in tls_trunk.log_text()
        assert heard_caller(rig, ACCEPT) > 0.3
    finally:
        codes = rig.stop()
    assert codes.get("box") == 0, rig.box_log()[-3000:]
