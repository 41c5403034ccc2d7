"""Central behind the office's reverse proxy, as the README sets it up: a real nginx with TLS running
central/proxy/nginx-central.conf (names, ports and certificates swapped for the test's), central
served under /central. Pages, login, API and a state-changing request work through the prefix; the
cookies are Secure and scoped to /central; the audit log has the client's address; a request that
reaches central with another Host, or from another origin, is refused."""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from central.tables import audit_log
from tests.central_web import PASSWORD, add_user, start_central
from tests.support import free_port, make_test_ca, wait_until

NGINX = Path("/usr/sbin/nginx")
SITE = Path(__file__).resolve().parent.parent / "central" / "proxy" / "nginx-central.conf"


@pytest.fixture
def proxied(broker, tmp_path: Path):
    if not NGINX.exists():
        pytest.fail("nginx is not installed (apt-get install nginx-light)")
    tls = make_test_ca(tmp_path / "tls", "unused")
    http_port, https_port = free_port(), free_port()
    host = f"localhost:{https_port}"
    central = start_central(broker.port, f"sqlite:///{tmp_path / 'central.sqlite3'}", root_path="/central",
                            allowed_hosts=("localhost",), trusted_proxies=("127.0.0.1",))
    central_port = central.url.split(":")[2].split("/")[0]
    site = (SITE.read_text().replace("central.office.example", "localhost")
            .replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
            .replace("listen 80", f"listen 127.0.0.1:{http_port}")
            .replace("/etc/ssl/kiosk-central/fullchain.pem", str(tls.server_cert))
            .replace("/etc/ssl/kiosk-central/privkey.pem", str(tls.server_key))
            .replace("127.0.0.1:8080", f"127.0.0.1:{central_port}"))
    work = tmp_path / "nginx"
    work.mkdir()
    (work / "site.conf").write_text(site)
    (work / "nginx.conf").write_text(f"""
daemon off; pid {work}/nginx.pid; error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    include {work}/site.conf;
}}
""")
    nginx = subprocess.Popen([str(NGINX), "-p", str(work), "-c", str(work / "nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"https://{host}"
    client = httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=str(tls.ca)), timeout=10)
    try:
        wait_until(lambda: _answers(client, nginx), timeout=15)
        yield central, client, base
    finally:
        client.close()
        nginx.terminate()
        nginx.wait(10)
        central.stop()


def _answers(client: httpx.Client, nginx: subprocess.Popen) -> bool:
    if nginx.poll() is not None:
        raise AssertionError(f"nginx exited: {nginx.stderr.read().decode() if nginx.stderr else ''}")
    try:
        return client.get("/central/login").status_code == 200
    except httpx.HTTPError:
        return False


def test_central_works_behind_nginx_with_a_prefix(proxied) -> None:
    central, client, base = proxied
    add_user(central.db, "oper", "operator")
    with central.db.transaction() as conn:
        central.db.record_status(conn, "xc-0001", {"status": "online", "boot": 1, "region": "110102"}, time.time())

    bare = client.get("/central")
    assert bare.status_code == 301 and bare.headers["location"].endswith("/central/")
    page = client.get("/central/usage")
    assert page.status_code == 303 and page.headers["location"] == "/central/login?next=usage"
    login_page = client.get("/central/login")
    assert login_page.status_code == 200 and "static/login.js" in login_page.text
    assert client.get("/central/static/login.js").status_code == 200

    logged = client.post("/central/api/login", json={"username": "oper", "password": PASSWORD})
    assert logged.status_code == 200
    for cookie in logged.headers.get_list("set-cookie") + client.get("/central/api/session").headers.get_list(
            "set-cookie"):
        lowered = cookie.lower()
        assert "path=/central" in lowered and "; secure" in lowered, cookie
    token = client.get("/central/api/session").json()["csrf_token"]
    assert client.get("/central/api/fleet").json()["devices"][0]["device"] == "xc-0001"
    assert client.get("/central/").status_code == 200

    foreign = client.post("/central/api/devices/xc-0001/commands", json={"name": "ping"},
                          headers={"X-CSRF-Token": token, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    sent = client.post("/central/api/devices/xc-0001/commands", json={"name": "ping"},
                       headers={"X-CSRF-Token": token, "Origin": base})
    assert sent.status_code == 200, sent.text
    with central.db.read() as conn:
        line = conn.execute(select(audit_log).where(audit_log.c.action == "command")).mappings().one()
    assert line["actor"] == "oper" and line["address"] == "127.0.0.1"

    rebound = httpx.get(central.url + "/login", headers={"Host": "evil.example"})  # a DNS-rebinding page
    assert rebound.status_code == 400
    assert httpx.get(central.url + "/api/health").status_code == 200  # loopback monitoring stays allowed
