"""CPU time of this process and of each of its threads, from /proc (Linux): what a test
measures to tell a loop that waits from one that spins."""

import os
import time

_TICK = os.sysconf("SC_CLK_TCK")


def thread_seconds(native_id):
    """CPU seconds (user + system) thread `native_id` of this process has used; 0.0 once it
    has ended."""
    try:
        with open(f"/proc/self/task/{native_id}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def threads_seconds():
    """{thread id: CPU seconds} of every thread of this process."""
    return {int(tid): thread_seconds(tid) for tid in os.listdir("/proc/self/task")}


def busiest_thread_over(seconds, wait=time.sleep):
    """The most CPU any one thread of this process used in the next `seconds` (`wait` does
    the waiting: time.sleep, or an asyncio-friendly stand-in), and the whole process's."""
    before, process = threads_seconds(), time.process_time()
    wait(seconds)
    after = threads_seconds()
    used = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    return max(used.values(), default=0.0), time.process_time() - process
