"""A throwaway PostgreSQL server of a test's own (initdb into a temporary directory, its own
port on 127.0.0.1, trust authentication), which the test may restart or stop under load.

Debian's PostgreSQL (interop/run installs it when missing) keeps `initdb` and `pg_ctl` out of
PATH, one directory per major version; when run as root the server runs as `postgres`
(initdb refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from helpers import free_port


def bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    if not dirs:
        raise RuntimeError("no PostgreSQL server: install Debian's postgresql (interop/run does)")
    return Path(dirs[-1])


class PgCluster:
    def __init__(self):
        self.bin = bindir()
        self.port = free_port()
        # Not under pytest's tmp_path: its root is private to the user running the tests, and
        # the server runs as `postgres`.
        self.dir = Path(tempfile.mkdtemp(prefix="baton-interop-pg-"))
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.dir / "data"
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        self.start()
        subprocess.run([self.bin / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "baton"], check=True, timeout=30)
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/baton"

    def _run(self, tool: str, *args, timeout: float = 60):
        argv = self.as_user + [str(self.bin / tool)] + [str(a) for a in args]
        subprocess.run(argv, check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def _ctl(self, *args):
        self._run("pg_ctl", "-D", self.data, *args)

    def start(self):
        self._ctl("-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
                  "-l", self.dir / "server.log", "-w", "start")

    def stop(self, mode: str = "fast"):
        """`immediate`: as a crash (no checkpoint; recovery at the next start)."""
        self._ctl("-m", mode, "-w", "stop")

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self):
        try:
            self.stop("immediate")
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
