"""What the hostile-client tests (test_health_hostile.py, and the ingestion
plugin's test_ingest_hostile.py) read of a server process and of a raw
socket: descriptors, RSS, whether it runs under ASan, what a connection
got before the server closed it."""

import os
import re
import socket


def sanitized(pid):
    """Is the process built with ASan? Its allocator keeps freed memory in a
    quarantine (RSS does not come back) and moves every realloc."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def read_until_closed(s, timeout):
    """Everything the server sends until it closes (b"" if it closes
    without a byte), or None if it is still open after timeout."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    except socket.timeout:
        return None
    except (ConnectionResetError, BrokenPipeError):
        return data


def is_closed(s):
    """Has the server closed s? Never waits."""
    try:
        while True:
            if not s.recv(65536, socket.MSG_DONTWAIT):
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True
