#!/usr/bin/env python3
"""nginx and php-fpm figures against a known load: the stack rendered from
the default templates (their loopback-only /nginx-status and /fpm-status
locations), real nginx and php-fpm, and wrk driving a PHP page with 4
connections; wrk's own count is the independent measure."""

import json
import os
import re
import shutil
import subprocess
import time
import unittest

from harness import AgentTestCase, main, wait_for
from services import Nginx, PhpFpm, free_port, http_get
from stack import make_dirs, stack_config

SLOW_PAGE = "<?php usleep(20000); echo 'ok';\n"


@unittest.skipUnless(shutil.which("wrk"), "needs wrk")
class WebMetricsTest(AgentTestCase):
    def test_nginx_and_fpm_under_wrk(self):
        port = free_port()
        docroot = os.path.join(self.tmp, "www")
        os.makedirs(docroot)
        with open(os.path.join(docroot, "index.php"), "w") as f:
            f.write(SLOW_PAGE)
        p = make_dirs(self.tmp)
        self.fake.create_secret("db", string=json.dumps({"username": "app", "password": "not-used-9",
                                                         "host": "127.0.0.1", "port": 9}))
        base = "http://127.0.0.1:%d" % port
        a = self.agent(config=stack_config(self.tmp, port, docroot, with_env=False) +
                       "[metrics]\ninterval = 1s\npublish_interval = 2s\nstatsd_listen = off\n"
                       "nginx_status = %s/nginx-status\nfpm_status = %s/fpm-status?json\n" % (base, base))
        a.wait_notify("READY=1", timeout=60)
        fpm = PhpFpm(os.path.join(self.tmp, "fpm"), pool_config_path=p["pool"])
        fpm.start()
        self.addCleanup(fpm.stop)
        nginx = Nginx(os.path.join(self.tmp, "nginx"), site_path=p["site"], port=port)
        nginx.start()
        self.addCleanup(nginx.stop)
        self.assertEqual(http_get(base + "/")[2], b"ok")
        # agentd reads both pages: the metrics component is ok again
        wait_for(lambda: "nginx_active" in a.health("/metrics")[2].decode() and
                 "phpfpm_active_processes" in a.health("/metrics")[2].decode(), timeout=20, what="web figures")
        wait_for(lambda: a.subsystem(a.status()[1], "metrics")["state"] == "ok", what="metrics ok")

        before = len(self.fake.metric_data())
        out = subprocess.run(["wrk", "-t1", "-c4", "-d4s", base + "/"], capture_output=True, text=True,
                             check=True).stdout
        wrk_rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        self.assertGreater(wrk_rate, 20, out)
        loaded_until = time.time()

        def during(name):
            """Samples of the load seconds, from the windows published after it began."""
            return [d for d in self.fake.metric_data(name) if d["Timestamp"] <= loaded_until]

        wait_for(lambda: len(self.fake.metric_data()) > before and
                 any(d["Timestamp"] > loaded_until for d in self.fake.metric_data("nginx_active")),
                 timeout=20, what="windows after the load published")
        rates = [d["StatisticValues"]["Maximum"] for d in during("nginx_requests")]
        self.assertEqual(self.fake.metric_data("nginx_requests")[0]["Unit"], "Count/Second")
        # the busiest second agentd saw is wrk's rate (plus agentd's own 2 requests a second)
        self.assertLess(abs(max(rates) - wrk_rate) / wrk_rate, 0.35, (rates, wrk_rate))
        # 4 wrk connections open at once (+ agentd's status request)
        self.assertGreaterEqual(max(d["StatisticValues"]["Maximum"] for d in during("nginx_active")), 4)
        fpm_active = [d for d in during("phpfpm_active_processes")]
        self.assertEqual(fpm_active[0]["Dimensions"]["pool"], "app")
        self.assertGreaterEqual(max(d["StatisticValues"]["Maximum"] for d in fpm_active), 3)
        # after the load: only agentd's own status request is active
        text = a.health("/metrics")[2].decode()
        wait_for(lambda: re.search(r'^phpfpm_active_processes\{pool="app"\} 1$',
                                   a.health("/metrics")[2].decode(), re.M), what="fpm idle again")
        for name in ("phpfpm_idle_processes", "phpfpm_listen_queue", "phpfpm_max_children_reached_total",
                     "phpfpm_slow_requests_total", "nginx_waiting"):
            self.assertIn(name, text)


if __name__ == "__main__":
    main()
