"""A box's SIP endpoint alone (MediaCore with its door, and the account the box uses without
a trunk), for tests/sip/test_sip_door.py: one pjsua2 endpoint per process, so it runs in
its own. `python -m tests.sip.door_box READY_FILE TRUSTED_PORT`: writes its SIP port to
READY_FILE, trusts 127.0.0.1:TRUSTED_PORT as the trunk, and runs until SIGTERM."""

import asyncio
import logging
import signal
import sys
from pathlib import Path

from lawline.sip.endpoint import MediaCore
from lawline.sip.leg import LocalAccount


async def main(ready, trusted_port):
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    core = MediaCore("127.0.0.1", 0, 1, poll_interval=0.005,
                     trusted={("127.0.0.1", trusted_port)})
    core.start()
    core.add_account(LocalAccount(core, "sip:07730148@127.0.0.1"))
    tmp = Path(ready + ".tmp")
    tmp.write_text(str(core.port))
    tmp.rename(ready)
    try:
        await core.run(stop)
    finally:
        core.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(message)s")
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
