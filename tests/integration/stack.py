"""The agentd configuration of a whole instance stack in one temp dir: the
DB secret, php-fpm pool, nginx site and app env file rendered from the
default templates, validated by the shipped validators, reloaded by
command (or by systemd unit, over D-Bus). Shared by the integration tests,
./dev up and the benchmarks, so they all run the configuration an
instance runs, pointed at TMP instead of /etc.

Layout under TMP: fpm/pool.d/app.conf, fpm/app.sock, fpm/php-fpm.pid,
nginx/site.conf, nginx/nginx.pid, app/app.env.
"""

import os

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATES = os.path.join(REPO, "agent", "templates")
LIBEXEC = os.path.join(REPO, "agent", "libexec")


def paths(tmp):
    return {"pool": os.path.join(tmp, "fpm", "pool.d", "app.conf"),
            "site": os.path.join(tmp, "nginx", "site.conf"),
            "env": os.path.join(tmp, "app", "app.env"),
            "fpm_pid": os.path.join(tmp, "fpm", "php-fpm.pid"),
            "nginx_pid": os.path.join(tmp, "nginx", "nginx.pid")}


def make_dirs(tmp):
    for d in ("fpm/pool.d", "nginx", "app"):
        os.makedirs(os.path.join(tmp, d), exist_ok=True)
    return paths(tmp)


def reload_command(pid_file, signal):
    """What systemd's ExecReload= does (graceful), tolerating a service that
    is not running yet, as ReloadOrRestartUnit would start it."""
    return "test ! -f {0} || kill -{1} $(cat {0})".format(pid_file, signal)


def stack_config(tmp, port, docroot, fpm_reload=None, nginx_reload=None, nginx_template=None,
                 with_env=True, refresh="1s", extra=""):
    """fpm_reload / nginx_reload: a whole config line ("reload = x.service"
    or "reload_command = ..."); default: the reload command."""
    p = paths(tmp)
    fpm_reload = fpm_reload or "reload_command = " + reload_command(p["fpm_pid"], "USR2")
    nginx_reload = nginx_reload or "reload_command = " + reload_command(p["nginx_pid"], "HUP")
    text = """
[secret.db]
id = db
refresh = {refresh}
[vars]
fpm_socket = {t}/fpm/app.sock
fpm_user = root
fpm_group = root
fpm_socket_owner = root
listen = 127.0.0.1:{port}
docroot = {docroot}
health_socket = {t}/health.sock
[render.fpm]
template = {tpl}/php-fpm-pool.conf.in
target = {pool}
validate = {lx}/validate-php-fpm-pool {{}} -R
{fpm_reload}
[render.nginx]
template = {ngx}
target = {site}
validate = {lx}/validate-nginx-site {{}}
{nginx_reload}
""".format(t=tmp, port=port, docroot=docroot, tpl=TEMPLATES, lx=LIBEXEC, pool=p["pool"], site=p["site"],
           ngx=nginx_template or os.path.join(TEMPLATES, "nginx-site.conf.in"), refresh=refresh,
           fpm_reload=fpm_reload, nginx_reload=nginx_reload)
    if with_env:
        text += "[render.env]\ntemplate = {tpl}/app.env.in\ntarget = {env}\n".format(tpl=TEMPLATES, env=p["env"])
    return text + extra
