"""Real-service fixtures for integration tests: MariaDB, php-fpm 8.2 and nginx
from Debian 12, started by the test itself, as the user running the tests
(root in CI), on loopback ports and unix sockets, with every file in a temp
dir the caller gives. Nothing here touches /etc, /var or /run, and no fixed
port is used, so two tests can run side by side.

    with MariaDB(os.path.join(tmp, "db")) as db:
        db.create_user("app", "s3cret", "appdb")
        ...

Each fixture: start() (launch, then wait_ready), wait_ready(deadline),
stop() (graceful signal, then SIGKILL to its process group after a deadline),
log() (the daemon's error log), and context-manager support. A daemon that
fails to start raises ServiceError with the tail of its log.

Waits are deadline-based polls, never sleeps used as synchronisation.
Deadlines scale with AGENTD_TEST_SLOWDOWN, like the harness's.

Only the standard library; run with /usr/bin/python3.
"""

import glob
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request

SLOW = float(os.environ.get("AGENTD_TEST_SLOWDOWN", "1"))

NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
PHP_FPM = os.environ.get("PHP_FPM", "/usr/sbin/php-fpm8.2")
MARIADBD = os.environ.get("MARIADBD", "/usr/sbin/mariadbd")
MARIADB = os.environ.get("MARIADB", "/usr/bin/mariadb")
MARIADB_INSTALL_DB = os.environ.get("MARIADB_INSTALL_DB", "/usr/bin/mariadb-install-db")

UNIX_PATH_MAX = 107     # sun_path is 108 bytes, NUL included


class ServiceError(RuntimeError):
    """A fixture's daemon failed to start, reload or stop; the message holds
    the tail of its log."""


def _deadline(timeout):
    return time.monotonic() + timeout * SLOW


def _poll(predicate, deadline, what, on_timeout=None, interval=0.02):
    """Polls predicate() until it returns a true value, or raises ServiceError
    at the deadline (with on_timeout()'s text appended)."""
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise ServiceError("timed out waiting for %s%s" % (what, on_timeout() if on_timeout else ""))
        time.sleep(interval)


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _check_unix_path(path):
    if len(os.fsencode(path)) > UNIX_PATH_MAX:
        raise ServiceError("unix socket path too long (%d > %d bytes): %s; use a shorter temp dir"
                           % (len(os.fsencode(path)), UNIX_PATH_MAX, path))


def free_port(host="127.0.0.1"):
    """A TCP port on host that is free right now (the kernel picks it). Another
    process may still take it before the daemon binds it: the fixtures that
    choose their own port retry with a new one when the bind fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def unix_accepts(path, timeout=0.5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never via a proxy


def http_get(url, timeout=10.0, headers=None):
    """GET url; returns (status, headers, body bytes). 4xx/5xx are answers,
    not exceptions; connection failures still raise (URLError/OSError).
    headers is an http.client.HTTPMessage (case-insensitive .get)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with _opener.open(req, timeout=timeout * SLOW) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        try:
            body = e.read()
        finally:
            e.close()
        return e.code, e.headers, body


# ---- FastCGI (enough to talk to php-fpm directly, e.g. its ping.path) ----

_FCGI_BEGIN, _FCGI_END, _FCGI_PARAMS, _FCGI_STDIN, _FCGI_STDOUT, _FCGI_STDERR = 1, 3, 4, 5, 6, 7


def _fcgi_record(rtype, content, req_id=1):
    return struct.pack("!BBHHBx", 1, rtype, req_id, len(content), 0) + content


def _fcgi_len(n):
    return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)


def fastcgi_request(address, params, stdin=b"", timeout=5.0):
    """One FastCGI request to address (a unix socket path or (host, port)).
    Returns (stdout bytes, stderr bytes, application status)."""
    if isinstance(address, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout * SLOW)
    try:
        s.connect(address)
        body = b""
        for k, v in params.items():
            k, v = k.encode(), v.encode()
            body += _fcgi_len(len(k)) + _fcgi_len(len(v)) + k + v
        msg = _fcgi_record(_FCGI_BEGIN, struct.pack("!HB5x", 1, 0))   # responder, no keep-conn
        for i in range(0, len(body), 65535):
            msg += _fcgi_record(_FCGI_PARAMS, body[i:i + 65535])
        msg += _fcgi_record(_FCGI_PARAMS, b"")
        for i in range(0, len(stdin), 65535):
            msg += _fcgi_record(_FCGI_STDIN, stdin[i:i + 65535])
        msg += _fcgi_record(_FCGI_STDIN, b"")
        s.sendall(msg)
        buf, out, err = b"", b"", b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise ServiceError("FastCGI connection closed before END_REQUEST")
            buf += chunk
            while len(buf) >= 8:
                _, rtype, _, clen, plen = struct.unpack("!BBHHBx", buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
                if rtype == _FCGI_STDOUT:
                    out += content
                elif rtype == _FCGI_STDERR:
                    err += content
                elif rtype == _FCGI_END:
                    return out, err, struct.unpack("!I", content[:4])[0]
    finally:
        s.close()


# ---- common process handling ----

class _Daemon:
    name = "daemon"
    stop_signal = signal.SIGTERM

    def __init__(self, tmpdir):
        self.tmpdir = os.path.abspath(tmpdir)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.proc = None
        self.console_path = os.path.join(self.tmpdir, self.name + ".console")

    # subclasses: log_path, _command(), _prepare(), _ready()

    def log(self):
        """The daemon's error log."""
        return _read(self.log_path)

    def console(self):
        """What the daemon wrote to stdout/stderr."""
        return _read(self.console_path)

    def _tail(self, n=4000):
        text = "\n---- %s log %s (tail) ----\n%s" % (self.name, self.log_path, self.log()[-n:])
        con = self.console().strip()
        if con:
            text += "\n---- %s stdout/stderr (tail) ----\n%s" % (self.name, con[-n:])
        return text

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _launch(self):
        self._prepare()
        with open(self.console_path, "ab") as con:
            self.proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=con, stderr=con,
                                         cwd=self.tmpdir, start_new_session=True, env=self._env())

    def _env(self):
        return dict(os.environ)

    def start(self, timeout=30.0):
        """Starts the daemon and waits until it is ready."""
        if self.running():
            raise ServiceError("%s already running (pid %d)" % (self.name, self.proc.pid))
        self._launch()
        try:
            self.wait_ready(_deadline(timeout))
        except BaseException:
            self._kill()
            raise
        return self

    def wait_ready(self, deadline=None):
        """Waits until the daemon serves (deadline: a time.monotonic() value;
        None means 30 s from now). Raises ServiceError with the log tail if
        the daemon exits first or the deadline passes."""
        if deadline is None:
            deadline = _deadline(30)

        def ready():
            if self.proc.poll() is not None:
                raise ServiceError("%s exited with status %s before it was ready: %s%s"
                                   % (self.name, self.proc.returncode, " ".join(self._command()), self._tail()))
            return self._ready()
        _poll(ready, deadline, "%s to be ready" % self.name, self._tail)

    def stop(self, timeout=20.0):
        """Graceful stop (stop_signal), then SIGKILL to the process group after
        timeout. Returns the exit status; raises ServiceError if it had to kill."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(self.stop_signal)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self._kill()
                raise ServiceError("%s did not stop within %ss of %s, killed%s"
                                   % (self.name, timeout, self.stop_signal.name, self._tail()))
        return self.proc.returncode

    def _kill(self):
        """SIGKILL to the daemon's process group. The leader is not reaped yet
        when this is called, so its group id cannot have been reused."""
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# ---- MariaDB ----

def sql_string(value):
    """A MariaDB string literal for value (default sql_mode, where backslash
    escapes are on): quotes, backslashes, NUL, CR, LF and ^Z escaped."""
    repl = {"\\": "\\\\", "'": "\\'", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"}
    return "'" + "".join(repl.get(c, c) for c in value) + "'"


def sql_ident(name):
    """A backquoted identifier."""
    if "\0" in name:
        raise ValueError("NUL in identifier")
    return "`" + name.replace("`", "``") + "`"


def _unescape_batch(field):
    if field == "NULL":
        return None
    out, i = [], 0
    esc = {"n": "\n", "t": "\t", "0": "\0", "\\": "\\", "r": "\r"}
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            out.append(esc.get(field[i + 1], field[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class MariaDB(_Daemon):
    """mariadbd with its data dir in tmpdir/data (initialised once per
    fixture: stop() then start() keeps the data), a unix socket
    tmpdir/mysql.sock and TCP on 127.0.0.1:.port. root@localhost has no
    password; sql() connects as root over the socket."""

    name = "mariadb"

    def __init__(self, tmpdir, port=None):
        super().__init__(tmpdir)
        self.datadir = os.path.join(self.tmpdir, "data")
        self.socket = os.path.join(self.tmpdir, "mysql.sock")
        self.pid_file = os.path.join(self.tmpdir, "mariadb.pid")
        self.log_path = os.path.join(self.tmpdir, "mariadb.err")
        self.tmp = os.path.join(self.tmpdir, "tmp")
        self._fixed_port = port is not None
        self.port = port or free_port()
        self.init_seconds = None
        _check_unix_path(self.socket)

    def _server_options(self):
        return ["--no-defaults", "--datadir=" + self.datadir, "--user=root", "--tmpdir=" + self.tmp,
                "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M"]

    def initialise(self):
        """mariadb-install-db into tmpdir/data (once; a no-op afterwards)."""
        if os.path.isdir(os.path.join(self.datadir, "mysql")):
            return
        os.makedirs(self.tmp, exist_ok=True)
        t0 = time.monotonic()
        cmd = [MARIADB_INSTALL_DB] + self._server_options() + [
            "--auth-root-authentication-method=normal", "--skip-test-db",
            "--skip-name-resolve"]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120 * SLOW, cwd=self.tmpdir)
        with open(os.path.join(self.tmpdir, "mariadb-install-db.log"), "w") as f:
            f.write(p.stdout + p.stderr)
        if p.returncode != 0:
            shutil.rmtree(self.datadir, ignore_errors=True)   # so a retry starts clean
            raise ServiceError("mariadb-install-db failed (%d): %s\n%s"
                               % (p.returncode, " ".join(cmd), (p.stdout + p.stderr)[-4000:]))
        self.init_seconds = time.monotonic() - t0

    def _prepare(self):
        self.initialise()
        for stale in (self.socket, self.socket + ".lock", self.pid_file):
            try:
                os.unlink(stale)
            except FileNotFoundError:
                pass

    def _command(self):
        return [MARIADBD] + self._server_options() + [
            "--socket=" + self.socket, "--port=%d" % self.port, "--bind-address=127.0.0.1",
            "--pid-file=" + self.pid_file, "--log-error=" + self.log_path,
            "--skip-name-resolve", "--max-connections=100"]

    def _ready(self):
        # The server creates the socket when it accepts connections; a real
        # connection also reads its greeting (protocol version 10).
        if not os.path.exists(self.socket):
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2 * SLOW)
        try:
            s.connect(self.socket)
            head = s.recv(5)
            return len(head) == 5 and head[4] == 10
        except OSError:
            return False
        finally:
            s.close()

    def start(self, timeout=60.0):
        """Initialises the data dir (first time only), starts mariadbd and
        waits until the socket answers. If the chosen port was taken in the
        meantime, retries with another one."""
        for attempt in range(3):
            log_before = len(self.log())
            try:
                return super().start(timeout)
            except ServiceError:
                in_use = "Address already in use" in self.log()[log_before:]
                if self._fixed_port or not in_use or attempt == 2:
                    raise
                self.port = free_port()

    # ---- client helpers ----

    def client(self, args, input_text=None, timeout=30.0):
        """Runs the mariadb client with args (no option files read)."""
        return subprocess.run([MARIADB, "--no-defaults"] + list(args), input=input_text,
                              capture_output=True, text=True, timeout=timeout * SLOW)

    def sql(self, statement, database=None):
        """Runs statement(s) as root over the unix socket; returns the rows of
        the last result set as lists of str (None for NULL). Raises
        ServiceError on an SQL error."""
        args = ["--protocol=socket", "--socket=" + self.socket, "--user=root",
                "--batch", "--skip-column-names", "--default-character-set=utf8mb4"]
        if database:
            args.append("--database=" + database)
        p = self.client(args, input_text=statement)
        if p.returncode != 0:
            raise ServiceError("SQL failed (%d): %s" % (p.returncode, p.stderr.strip()))
        return [[_unescape_batch(f) for f in line.split("\t")] for line in p.stdout.split("\n") if line != ""]

    def login(self, user, password, database=None, tcp=True, statement="SELECT CURRENT_USER()"):
        """Connects as user with password (over TCP 127.0.0.1:port, or the
        socket) and runs statement; returns (ok, rows or error text)."""
        if tcp:
            args = ["--protocol=tcp", "--host=127.0.0.1", "--port=%d" % self.port]
        else:
            args = ["--protocol=socket", "--socket=" + self.socket]
        args += ["--user=" + user, "--password=" + password, "--batch", "--skip-column-names",
                 "--connect-timeout=10", "--default-character-set=utf8mb4"]
        if database:
            args.append("--database=" + database)
        p = self.client(args, input_text=statement)
        if p.returncode != 0:
            return False, p.stderr.strip()
        return True, [[_unescape_batch(f) for f in line.split("\t")]
                      for line in p.stdout.split("\n") if line != ""]

    HOSTS = ("127.0.0.1", "localhost")

    def create_user(self, user, password, db):
        """CREATE DATABASE db; user@127.0.0.1 and user@localhost identified by
        password, with ALL on db."""
        stmts = ["CREATE DATABASE IF NOT EXISTS %s;" % sql_ident(db)]
        for h in self.HOSTS:
            acct = "%s@%s" % (sql_string(user), sql_string(h))
            stmts.append("CREATE USER %s IDENTIFIED BY %s;" % (acct, sql_string(password)))
            stmts.append("GRANT ALL PRIVILEGES ON %s.* TO %s;" % (sql_ident(db), acct))
        self.sql("\n".join(stmts))

    def set_password(self, user, password):
        """ALTER USER for both hosts; password may hold any characters."""
        self.sql("\n".join("ALTER USER %s@%s IDENTIFIED BY %s;" % (sql_string(user), sql_string(h), sql_string(password))
                           for h in self.HOSTS))


# ---- php-fpm ----

_INI_BAD = re.compile(r'["\\$\n\r\0]')


def fpm_pool(listen, env=None, name="www", extra=""):
    """Text of a php-fpm pool: listens on listen (a unix socket path or
    host:port), pm static with 2 workers, ping.path /ping (answers "pong"),
    pm.status_path /status, clear_env with env[KEY] = "value" for env.
    Values go in double quotes; characters php-fpm's INI parser would
    interpret (", \\, $, newlines) are refused with ValueError."""
    lines = ["[%s]" % name, "listen = %s" % listen, "listen.mode = 0660",
             "pm = static", "pm.max_children = 2",
             "ping.path = /ping", "ping.response = pong", "pm.status_path = /status",
             "catch_workers_output = yes", "decorate_workers_output = no", "clear_env = yes"]
    for k, v in (env or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
            raise ValueError("bad env name %r" % k)
        if _INI_BAD.search(v):
            raise ValueError("env[%s] value has characters php-fpm's INI parser would change" % k)
        lines.append('env[%s] = "%s"' % (k, v))
    return "\n".join(lines) + "\n" + extra


def _pool_listen(text):
    """The first pool's listen address: a socket path or (host, port)."""
    m = re.search(r"^\s*listen\s*=\s*(.+?)\s*$", text, re.M)
    if not m:
        return None
    v = m.group(1).strip().strip('"').strip("'")
    if v.startswith("/"):
        return v
    host, _, port = v.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "*", "::", "[::]"):
        host = "127.0.0.1"
    return (host, int(port))


def _pool_ping(text):
    m = re.search(r"^\s*ping\.path\s*=\s*(\S+)", text, re.M)
    return m.group(1).strip('"\'') if m else None


class PhpFpm(_Daemon):
    """php-fpm8.2 -F -R -y tmpdir/php-fpm.conf. The pool is pool_text
    (written to tmpdir/pool.d/www.conf), or pool_config_path (a file or a
    glob, included as is), or else fpm_pool(tmpdir/php-fpm.sock)."""

    name = "php-fpm"
    stop_signal = signal.SIGQUIT      # graceful: workers finish their requests

    def __init__(self, tmpdir, pool_config_path=None, pool_text=None):
        super().__init__(tmpdir)
        if pool_config_path and pool_text is not None:
            raise ValueError("give pool_config_path or pool_text, not both")
        self.conf_path = os.path.join(self.tmpdir, "php-fpm.conf")
        self.pid_file = os.path.join(self.tmpdir, "php-fpm.pid")
        self.log_path = os.path.join(self.tmpdir, "php-fpm.log")
        self.socket = os.path.join(self.tmpdir, "php-fpm.sock")
        if pool_config_path:
            self.pool_path = os.path.abspath(pool_config_path)
        else:
            self.pool_path = os.path.join(self.tmpdir, "pool.d", "www.conf")
            self.write_pool(pool_text if pool_text is not None else fpm_pool(self.socket))
        self._write_main()

    def write_pool(self, text):
        """(Re)writes the fixture's own pool file (not a caller's
        pool_config_path); takes effect on start() or reload()."""
        if self.pool_path != os.path.join(self.tmpdir, "pool.d", "www.conf"):
            raise ServiceError("the pool is the caller's file %s: write it there" % self.pool_path)
        os.makedirs(os.path.dirname(self.pool_path), exist_ok=True)
        tmp = self.pool_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.pool_path)

    def _write_main(self):
        with open(self.conf_path, "w") as f:
            f.write("[global]\npid = %s\nerror_log = %s\nlog_level = notice\ndaemonize = no\n"
                    "process_control_timeout = 10s\ninclude = %s\n"
                    % (self.pid_file, self.log_path, self.pool_path))

    def _pool_text(self):
        return "\n".join(_read(p) for p in sorted(glob.glob(self.pool_path)))

    @property
    def listen(self):
        """The pool's listen address: a socket path or (host, port)."""
        return _pool_listen(self._pool_text()) or self.socket

    @property
    def master_pid(self):
        return self.proc.pid if self.proc else None

    def _prepare(self):
        listen = self.listen
        if isinstance(listen, str):
            _check_unix_path(listen)
            if os.path.exists(listen):
                os.unlink(listen)

    def _command(self):
        return [PHP_FPM, "-F", "-R", "-y", self.conf_path]

    def _serves(self):
        """The pool accepts a connection, and answers its ping.path when it has one."""
        listen, ping = self.listen, _pool_ping(self._pool_text())
        if ping is None:
            return unix_accepts(listen) if isinstance(listen, str) else port_accepts(listen[1], listen[0])
        try:
            out, _, _ = self.ping(ping)
        except (OSError, ServiceError):
            return False
        return out.split(b"\r\n\r\n", 1)[-1].strip() != b""

    def ping(self, path=None):
        """FastCGI request for the pool's ping.path straight to php-fpm;
        returns (stdout, stderr, status)."""
        path = path or _pool_ping(self._pool_text()) or "/ping"
        return fastcgi_request(self.listen, {
            "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SCRIPT_NAME": path,
            "SCRIPT_FILENAME": path, "REQUEST_URI": path, "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_NAME": "localhost", "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1"}, timeout=2)

    def _ready(self):
        return self._serves()

    def ready_count(self):
        return self.log().count("ready to handle connections")

    def reload(self, timeout=30.0):
        """SIGUSR2: php-fpm re-reads its config and replaces its workers (the
        master keeps its pid and listening sockets). Waits until the master
        logs "ready to handle connections" once more and the pool answers."""
        if not self.running():
            raise ServiceError("php-fpm is not running" + self._tail())
        before = self.ready_count()
        pid = self.proc.pid
        self.proc.send_signal(signal.SIGUSR2)
        deadline = _deadline(timeout)

        def reloaded():
            if self.proc.poll() is not None:
                raise ServiceError("php-fpm exited (status %s) on reload%s" % (self.proc.returncode, self._tail()))
            return self.ready_count() > before and self._serves()
        _poll(reloaded, deadline, "php-fpm to reload", self._tail)
        if self.proc.pid != pid:
            raise ServiceError("php-fpm master pid changed on reload")

    def test_config(self, path=None):
        """php-fpm8.2 -t on path (default: the fixture's main config). A pool
        file (no [global] section) is wrapped in a main config first.
        Returns (ok, output)."""
        path = os.path.abspath(path or self.conf_path)
        if not re.search(r"^\s*\[global\]", _read(path), re.M):
            wrap = os.path.join(self.tmpdir, "php-fpm-test.conf")
            with open(wrap, "w") as f:
                f.write("[global]\npid = %s\nerror_log = %s\ndaemonize = no\ninclude = %s\n"
                        % (os.path.join(self.tmpdir, "php-fpm-test.pid"),
                           os.path.join(self.tmpdir, "php-fpm-test.log"), path))
            path = wrap
        p = subprocess.run([PHP_FPM, "-t", "-R", "-y", path], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30 * SLOW)
        return p.returncode == 0, p.stdout + p.stderr


# ---- nginx ----

def php_site(port, docroot, fpm_listen, server_name="_"):
    """An nginx server block on 127.0.0.1:port serving docroot, with .php and
    /ping, /status (php-fpm's ping.path and pm.status_path) via FastCGI to
    fpm_listen (a unix socket path or "host:port")."""
    upstream = ("unix:" + fpm_listen) if fpm_listen.startswith("/") else fpm_listen
    fcgi = ("include /etc/nginx/fastcgi_params;\n"
            "            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
            "            fastcgi_pass %s;" % upstream)
    return """server {
        listen 127.0.0.1:%d;
        server_name %s;
        root %s;
        index index.php index.html;
        location ~ ^/(ping|status)$ {
            %s
        }
        location / {
            try_files $uri $uri/ /index.php?$query_string;
        }
        location ~ \\.php$ {
            try_files $uri =404;
            %s
        }
}
""" % (port, server_name, docroot, fcgi, fcgi)


def static_site(port, docroot):
    return """server {
        listen 127.0.0.1:%d;
        root %s;
        location = /__health { default_type text/plain; return 200 "ok\\n"; }
}
""" % (port, docroot)


def _children(pid):
    kids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            kids.add(int(d))
    return kids


class Nginx(_Daemon):
    """nginx -p tmpdir -c tmpdir/nginx.conf (daemon off, master on, one
    worker; running as root the workers are root too, so they can reach
    sockets and files in a 0700 temp dir). The site is site_text (a str, or
    a callable taking the port, which lets start() retry on another port if
    the chosen one was taken), or the file site_path, or else a static site
    with /__health. .port is chosen at construction (or given): read it
    before writing a site."""

    name = "nginx"
    stop_signal = signal.SIGQUIT      # graceful shutdown

    def __init__(self, tmpdir, site_text=None, site_path=None, port=None):
        super().__init__(tmpdir)
        if site_text is not None and site_path:
            raise ValueError("give site_text or site_path, not both")
        self.conf_path = os.path.join(self.tmpdir, "nginx.conf")
        self.pid_file = os.path.join(self.tmpdir, "nginx.pid")
        self.log_path = os.path.join(self.tmpdir, "error.log")
        self.access_log = os.path.join(self.tmpdir, "access.log")
        self.docroot = os.path.join(self.tmpdir, "www")
        self._log_at_launch = 0
        self._fixed_port = port is not None or (site_text is not None and not callable(site_text)) or bool(site_path)
        self.port = port or free_port()
        self._site_text = site_text
        if site_path:
            self.site_path = os.path.abspath(site_path)
        else:
            self.site_path = os.path.join(self.tmpdir, "site.conf")
            if site_text is None:
                os.makedirs(self.docroot, exist_ok=True)
                self._site_text = lambda port: static_site(port, self.docroot)
            self._render_site()
        self._write_main()

    def _render_site(self):
        text = self._site_text(self.port) if callable(self._site_text) else self._site_text
        self._write(self.site_path, text)

    @staticmethod
    def _write(path, text):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def write_site(self, text):
        """Rewrites the fixture's own site file; takes effect on reload()."""
        if self.site_path != os.path.join(self.tmpdir, "site.conf"):
            raise ServiceError("the site is the caller's file %s: write it there" % self.site_path)
        self._site_text = text
        self._render_site()

    def _write_main(self):
        t = os.path.join(self.tmpdir, "temp")
        os.makedirs(t, exist_ok=True)
        user = "user root root;\n" if os.geteuid() == 0 else ""
        self._write(self.conf_path, """%sdaemon off;
master_process on;
worker_processes 1;
pid %s;
error_log %s notice;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log %s;
    client_body_temp_path %s/client_body;
    proxy_temp_path %s/proxy;
    fastcgi_temp_path %s/fastcgi;
    uwsgi_temp_path %s/uwsgi;
    scgi_temp_path %s/scgi;
    include %s;
}
""" % (user, self.pid_file, self.log_path, self.access_log, t, t, t, t, t, self.site_path))

    def _base_args(self):
        # -e: the error log before the config is read (else /var/log/nginx).
        return ["-p", self.tmpdir + "/", "-c", self.conf_path, "-e", self.log_path]

    def _prepare(self):
        os.makedirs(os.path.join(self.tmpdir, "temp"), exist_ok=True)
        self._log_at_launch = len(self.log())

    def _command(self):
        return [NGINX] + self._base_args()

    def _ready(self):
        # nginx starts workers only once it has bound every listen socket (it
        # retries a bind for 2.5 s); the port alone could be someone else's.
        return "start worker process" in self.log()[self._log_at_launch:] and port_accepts(self.port)

    def start(self, timeout=30.0):
        for attempt in range(3):
            log_before = len(self.log())
            try:
                return super().start(timeout)
            except ServiceError:
                in_use = "Address already in use" in self.log()[log_before:]
                if self._fixed_port or not in_use or attempt == 2:
                    raise
                self.port = free_port()
                self._render_site()

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def workers(self):
        return _children(self.proc.pid) if self.running() else set()

    def reload(self, timeout=30.0):
        """SIGHUP: nginx re-reads its config and starts new workers. Waits
        until a worker pid that was not there before runs and the port
        accepts; raises ServiceError (with the log) if nginx rejected the
        new config, leaving the old one serving."""
        if not self.running():
            raise ServiceError("nginx is not running" + self._tail())
        old = self.workers()
        log_before = len(self.log())
        self.proc.send_signal(signal.SIGHUP)

        def reloaded():
            if self.proc.poll() is not None:
                raise ServiceError("nginx exited (status %s) on reload%s" % (self.proc.returncode, self._tail()))
            new_log = self.log()[log_before:]
            bad = [l for l in new_log.splitlines() if "[emerg]" in l or "[alert]" in l]
            if bad:
                raise ServiceError("nginx rejected the new config:\n" + "\n".join(bad))
            return bool(self.workers() - old) and port_accepts(self.port)
        _poll(reloaded, _deadline(timeout), "nginx to start new workers", self._tail)

    def test_config(self):
        """nginx -t on the fixture's config; returns (ok, output)."""
        p = subprocess.run([NGINX, "-t"] + self._base_args(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30 * SLOW)
        return p.returncode == 0, p.stdout + p.stderr


# ---- the PHP app ----

PHP_APP = r"""<?php
// Test app: connects to MySQL with the DB_* environment php-fpm sets
// (env[...] in the pool), runs SELECT 1, prints "ok" or answers 500.
header('Content-Type: text/plain');
header('Cache-Control: no-store');
mysqli_report(MYSQLI_REPORT_OFF);
$db = mysqli_init();
$db->options(MYSQLI_OPT_CONNECT_TIMEOUT, 5);
$socket = getenv('DB_SOCKET');
$ok = @$db->real_connect(getenv('DB_HOST') ?: '127.0.0.1', (string)getenv('DB_USER'),
                         (string)getenv('DB_PASSWORD'), (string)getenv('DB_NAME'),
                         (int)(getenv('DB_PORT') ?: 3306), $socket === false ? null : $socket);
if (!$ok) {
    http_response_code(500);
    echo 'error: connect: ', mysqli_connect_errno(), ' ', mysqli_connect_error(), "\n";
    exit;
}
$r = $db->query('SELECT 1');
$row = $r ? $r->fetch_row() : null;
if (!$row || $row[0] != 1) {
    http_response_code(500);
    echo 'error: query: ', $db->errno, ' ', $db->error, "\n";
    exit;
}
$db->close();
echo 'ok';
"""


def write_php_app(docroot):
    """Writes docroot/index.php (see PHP_APP); returns its path. /ping is
    php-fpm's own ping.path (see fpm_pool and php_site)."""
    os.makedirs(docroot, exist_ok=True)
    path = os.path.join(docroot, "index.php")
    with open(path, "w") as f:
        f.write(PHP_APP)
    return path
