"""Template escaping against the real parsers: a nasty value is rendered by
render-template (template.c) into a php-fpm pool, an nginx server and an env
file, and read back by php-fpm8.2 -tt, by nginx serving it, and by a shell.
Each must give back exactly the original bytes. Runs as root (nginx binds
and drops to its worker user, php-fpm -tt wants a pool user)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

RENDER = os.environ.get("RENDER_TEMPLATE", "render-template")
PHP_FPM = shutil.which("php-fpm8.2") or "/usr/sbin/php-fpm8.2"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SLOW = float(os.environ.get("AGENTD_TEST_SLOWDOWN", "1"))
CANARY = "Canary-9d2e"

# Everything that could end a quoted string, start a variable or a comment,
# or be mangled by an escape pass: quotes, backslashes (one at the very end,
# right before the closing quote), $x ${x} ${HOME} \$ \n (two characters),
# ; { } # = ', a tab, non-ASCII.
BASE = CANARY + " q\"b\\s $x ${y} ${HOME} \\$ \\n ;{}#='\t\u00e9\u20ac\U0001f600 end\\"


class EscapingTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="agentd-escaping-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def render(self, fmt, template, value):
        """Renders template with {"v": value}; returns (exit status, stdout bytes, stderr text)."""
        with open(self.path("t.in"), "w", encoding="utf-8") as f:
            f.write(template)
        with open(self.path("vars.json"), "w", encoding="utf-8") as f:
            json.dump({"v": value}, f)
        p = subprocess.run([RENDER, fmt, self.path("t.in"), "--json", self.path("vars.json")],
                           capture_output=True, timeout=30 * SLOW)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def render_ok(self, fmt, template, value):
        rc, out, err = self.render(fmt, template, value)
        self.assertEqual(rc, 0, err)
        return out

    def assert_refused(self, fmt, template, value, reason):
        rc, out, err = self.render(fmt, template, value)
        self.assertEqual(rc, 1, err)
        self.assertIn("'v'", err)
        self.assertIn(reason, err)
        self.assertNotIn(CANARY, err)
        self.assertEqual(out, b"")

    # php-fpm -------------------------------------------------------------

    def test_php_fpm_pool(self):
        pool = ("[global]\n"
                "error_log = " + self.path("fpm.log") + "\n"
                "[www]\n"
                "user = nobody\n"
                "listen = 127.0.0.1:9\n"
                "pm = static\n"
                "pm.max_children = 1\n"
                "env[NASTY] = \"{{v}}\"\n"
                "php_admin_value[error_log] = \"/tmp/{{v}}\"\n")
        out = self.render_ok("php-fpm", pool, BASE)
        with open(self.path("pool.conf"), "wb") as f:
            f.write(out)
        p = subprocess.run([PHP_FPM, "-tt", "-y", self.path("pool.conf")], capture_output=True,
                           timeout=30 * SLOW)
        log = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, log)
        prefix = "\tenv[NASTY] = "
        values = [line.split(prefix, 1)[1] for line in log.split("\n") if prefix in line]
        self.assertEqual(values, [BASE], log)
        prefix = "\tphp_admin_value[error_log] = "
        values = [line.split(prefix, 1)[1] for line in log.split("\n") if prefix in line]
        self.assertEqual(values, ["/tmp/" + BASE], log)

        self.assert_refused("php-fpm", pool, BASE + "\nsecond line", "newline")
        self.assert_refused("php-fpm", pool, BASE + "$pool", "$pool")

    # nginx ---------------------------------------------------------------

    def nginx_conf(self, port, with_geo=True):
        t = self.tmp
        return ("pid " + t + "/nginx.pid;\n"
                "error_log " + t + "/error.log;\n"
                "daemon off;\n"
                "events { worker_connections 16; }\n"
                "http {\n"
                "    access_log off;\n"
                "    client_body_temp_path " + t + "/body;\n"
                "    proxy_temp_path " + t + "/proxy;\n"
                "    fastcgi_temp_path " + t + "/fastcgi;\n"
                "    uwsgi_temp_path " + t + "/uwsgi;\n"
                "    scgi_temp_path " + t + "/scgi;\n"
                + ("    geo $dollar { default \"$\"; }\n" if with_geo else "") +
                "    server {\n"
                "        listen 127.0.0.1:" + str(port) + ";\n"
                "        server_name \"{{name}}\";\n"
                "        location / {\n"
                "            default_type application/octet-stream;\n"
                "            add_header X-Value \"{{name}}\";\n"
                "            return 200 \"{{v}}\";\n"
                "        }\n"
                "    }\n"
                "}\n")

    def start_nginx(self, conf):
        cmd = [NGINX, "-p", self.tmp + "/", "-e", self.path("error.log"), "-c", conf]
        t = subprocess.run(cmd + ["-t"], capture_output=True, timeout=30 * SLOW)
        self.assertEqual(t.returncode, 0, t.stderr.decode("utf-8", "replace"))
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10 * SLOW)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            proc.stderr.close()
        self.addCleanup(stop)
        return proc

    def wait_port(self, proc, port):
        deadline = time.monotonic() + 10 * SLOW
        while True:
            if proc.poll() is not None:
                self.fail("nginx exited: " + proc.stderr.read().decode("utf-8", "replace"))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.fail("nginx did not listen on port %d" % port)
                time.sleep(0.02)

    def test_nginx_return(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        value = BASE + "\nsecond line $pool $1 ${dollar}"
        template = self.nginx_conf(port).replace("{{name}}", "{{instance.id}}")
        with open(self.path("t.in"), "w", encoding="utf-8") as f:
            f.write(template)
        with open(self.path("vars.json"), "w", encoding="utf-8") as f:
            json.dump({"v": value}, f)
        p = subprocess.run([RENDER, "nginx", self.path("t.in"), "--json", self.path("vars.json"),
                            "instance.id=i-0abc"], capture_output=True, timeout=30 * SLOW)
        rc, out, err = p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
        self.assertEqual(rc, 0, err)
        with open(self.path("nginx.conf"), "wb") as f:
            f.write(out)

        proc = self.start_nginx(self.path("nginx.conf"))
        self.wait_port(proc, port)
        with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10 * SLOW) as r:
            body = r.read()
            self.assertEqual(r.headers["X-Value"], "i-0abc")
        self.assertEqual(body, value.encode("utf-8"))

    def test_nginx_without_dollar_geo_fails_loudly(self):
        out = self.render_ok("nginx", self.nginx_conf(9).replace("{{name}}", "x")
                             .replace("geo $dollar", "#"), "a$b")
        with open(self.path("nogeo.conf"), "wb") as f:
            f.write(out)
        t = subprocess.run([NGINX, "-p", self.tmp + "/", "-e", self.path("error.log"), "-c",
                            self.path("nogeo.conf"), "-t"], capture_output=True, timeout=30 * SLOW)
        self.assertNotEqual(t.returncode, 0)
        self.assertIn("unknown \"dollar\" variable", t.stderr.decode("utf-8", "replace"))

    # env file ------------------------------------------------------------

    def test_env_file_read_by_shell(self):
        value = BASE + "\nsecond line"
        out = self.render_ok("env", "# app environment\nKEY=\"{{v}}\"\nOTHER=\"x\"\n", value)
        with open(self.path("app.env"), "wb") as f:
            f.write(out)
        p = subprocess.run(["bash", "-c", 'set -a; . "$1"; printf %s "$KEY"', "bash", self.path("app.env")],
                           capture_output=True, timeout=30 * SLOW, env={"PATH": os.environ.get("PATH", "")})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, value.encode("utf-8"))

        self.assert_refused("env", "KEY=\"{{v}}\"\n", BASE + "`id`", "backtick")
        self.assert_refused("env", "KEY=\"{{v}}\"\n", BASE + "\r", "carriage return")


if __name__ == "__main__":
    unittest.main(verbosity=2)
