"""Alerts end to end on real servers: a down camera of a real pipeline reaches a webhook,
Slack and email through Prometheus and Alertmanager, with the shipped rules and config."""

from __future__ import annotations

import base64
import json
import socketserver
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from aistack.config import AppConfig
from aistack.pipeline.metrics import MetricsServer, PipelineMetrics
from aistack.pipeline.wiring import Pipeline

if TYPE_CHECKING:
    from tests.servers import Server


REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "stack/prometheus/rules/aistack.rules.yml"
ALERTMANAGER_CONFIG = REPO / "stack/alertmanager/alertmanager.yml"
# What `aistack stack` / compose replaces with the deployment's webhook URL.
WEBHOOK_PLACEHOLDER = "http://aistack-alert-webhook.invalid/alerts"
SMTP_PASSWORD = "not-a-real-password"


def _wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


@dataclass(frozen=True)
class Post:
    path: str
    body: dict[str, Any]
    at: float  # time.monotonic() on arrival


class WebhookReceiver:
    """An HTTP server in a thread that records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        lock = threading.Lock()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with lock:
                    posts.append(Post(self.path, body, time.monotonic()))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def received(self, path: str) -> list[Post]:
        return [post for post in list(self.posts) if post.path == path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass
class Mail:
    auth: list[str] = field(default_factory=list)  # identity, user, password of AUTH PLAIN
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    data: str = ""


class SmtpSink:
    """Just enough of an SMTP server (EHLO, AUTH PLAIN, MAIL, RCPT, DATA) to record mails."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        mails = self.mails

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, *lines: str) -> None:
                self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())

            def handle(self) -> None:
                mail = Mail()
                self.reply("220 localhost SMTP sink")
                while line := self.rfile.readline():
                    command = line.decode().rstrip("\r\n")
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-localhost", "250 AUTH PLAIN")
                    elif verb == "AUTH":
                        plain = base64.b64decode(command.split()[2]).decode()
                        mail.auth = plain.split("\0")
                        self.reply("235 2.7.0 authenticated")
                    elif verb == "MAIL":
                        mail.sender = command.split(":", 1)[1].strip()
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        mail.recipients.append(command.split(":", 1)[1].strip())
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        data = b""
                        while not data.endswith(b"\r\n.\r\n") and (chunk := self.rfile.readline()):
                            data += chunk
                        mail.data = data.decode(errors="replace")
                        mails.append(mail)
                        mail = Mail(auth=mail.auth)
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 OK")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    yield sink
    sink.stop()


def render_alertmanager_config(
    folder: Path, webhook_url: str, slack_url: str, smarthost: str, smtp_password: str
) -> Path:
    """The shipped config as a deployment renders it (placeholder and secret files filled),
    plus test timings: notifications go out after 1 s instead of 30 s."""
    text = ALERTMANAGER_CONFIG.read_text()
    assert text.count(WEBHOOK_PLACEHOLDER) == 1
    config = yaml.safe_load(text.replace(WEBHOOK_PLACEHOLDER, webhook_url))
    secrets = folder / "secrets"
    secrets.mkdir(parents=True)
    # Alertmanager 0.25 trims the Slack URL file but sends the password file verbatim,
    # trailing newline included: docs/monitoring.md says to write it with `printf %s`.
    (secrets / "slack_api_url").write_text(slack_url + "\n")
    (secrets / "smtp_password").write_text(smtp_password)
    shipped_global = config["global"]
    assert shipped_global["slack_api_url_file"] == "/run/secrets/slack_api_url"
    assert shipped_global["smtp_auth_password_file"] == "/run/secrets/smtp_password"
    shipped_global.update(
        slack_api_url_file=str(secrets / "slack_api_url"),
        smtp_auth_password_file=str(secrets / "smtp_password"),
        smtp_smarthost=smarthost,
        smtp_require_tls=False,  # the local sink speaks no TLS; PLAIN is allowed on 127.0.0.1
    )
    config["templates"] = [str(ALERTMANAGER_CONFIG.parent / t) for t in config["templates"]]
    config["route"].update(group_wait="1s", group_interval="1s")
    rendered = folder / "alertmanager.yml"
    rendered.write_text(yaml.safe_dump(config, sort_keys=False))
    return rendered


def rules_without_waiting(folder: Path) -> Path:
    """The shipped rules with every `for:` at 0 s; expressions, labels and texts unchanged."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = "0s"
    copy = folder / "aistack.rules.yml"
    copy.write_text(yaml.safe_dump(rules, sort_keys=False))
    return copy


def _amtool_check(config: Path) -> subprocess.CompletedProcess[str]:
    from tests.servers import find_binary

    amtool = find_binary("amtool", "prometheus-alertmanager")
    return subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, timeout=60
    )


def test_shipped_alertmanager_config_passes_amtool() -> None:
    result = _amtool_check(ALERTMANAGER_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 receivers" in result.stdout and "1 templates" in result.stdout


def test_shipped_alertmanager_config_has_no_secrets() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert "api_url" not in receivers["slack"]["slack_configs"][0]
    assert "slack_api_url" not in config["global"] and "smtp_auth_password" not in config["global"]
    assert all("auth_password" not in c for c in receivers["email"]["email_configs"])


def test_rendered_alertmanager_config_passes_amtool(tmp_path: Path) -> None:
    rendered = render_alertmanager_config(
        tmp_path, "http://127.0.0.1:1/alerts", "http://127.0.0.1:1/slack", "127.0.0.1:1", "x"
    )
    result = _amtool_check(rendered)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_alertmanager_config_fails_amtool(tmp_path: Path) -> None:
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(ALERTMANAGER_CONFIG.read_text().replace("receiver: slack", "receiver: slak"))
    result = _amtool_check(broken)
    assert result.returncode != 0
    assert 'undefined receiver "slak"' in result.stdout + result.stderr


def _query(prometheus: Server, expr: str) -> dict[str, Any]:
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _firing(posts: list[Post], alertname: str) -> list[dict[str, Any]]:
    return [
        alert
        for post in posts
        for alert in post.body.get("alerts", [])
        if alert["labels"]["alertname"] == alertname and alert["status"] == "firing"
    ]


@pytest.mark.services
def test_a_down_camera_reaches_webhook_slack_and_email(
    tmp_path: Path,
    webhook: WebhookReceiver,
    smtp: SmtpSink,
    prometheus_server: Callable[..., Server],
    alertmanager_server: Callable[[Path | None], Server],
) -> None:
    config = render_alertmanager_config(
        tmp_path / "alertmanager",
        webhook_url=f"{webhook.url}/alerts",
        slack_url=f"{webhook.url}/slack",
        smarthost=smtp.address,
        smtp_password=SMTP_PASSWORD,
    )
    alertmanager = alertmanager_server(config)
    from tests.servers import free_port

    # A real pipeline whose only camera points at a port where nothing listens.
    camera_url = f"rtsp://127.0.0.1:{free_port()}/x"
    app = AppConfig.model_validate(
        {
            "cameras": [{"name": "gate", "source": {"uri": camera_url}}],
            "store": {"path": str(tmp_path / "store.sqlite")},
        }
    )
    metrics = PipelineMetrics()
    server = MetricsServer(metrics, "127.0.0.1", 0)
    pipeline = Pipeline(app, metrics=metrics, supervise=True)
    runner = threading.Thread(target=pipeline.run, name="pipeline", daemon=True)
    runner.start()
    try:
        prometheus = prometheus_server(
            [f"127.0.0.1:{server.port}"],
            rule_files=[rules_without_waiting(tmp_path)],
            alertmanagers=[alertmanager.url],
        )
        started = time.monotonic()

        post = _wait_for(
            lambda: next(
                (p for p in webhook.received("/alerts") if _firing([p], "CameraDown")), None
            ),
            timeout=60,
            what="CameraDown at the webhook",
        )
        print(
            f"\nCameraDown reached the webhook {post.at - started:.1f} s after Prometheus started"
        )
        (alert,) = _firing([post], "CameraDown")
        target = f"127.0.0.1:{server.port}"
        assert alert["labels"] == {
            "alertname": "CameraDown", "camera": "gate", "severity": "critical",
            "instance": target, "job": "aistack",
        }  # fmt: skip
        assert alert["annotations"]["summary"] == f"camera gate on {target} delivers no frames"
        assert post.body["receiver"] == "webhook" and post.body["status"] == "firing"
        # Nothing else fires for a worker that is up with a down camera, even with for: 0s.
        assert {a["labels"]["alertname"] for p in webhook.received("/alerts")
                for a in p.body["alerts"]} == {"CameraDown"}  # fmt: skip

        # Critical, so Slack (URL from its secret file) and email (password from its file) too.
        slack = _wait_for(lambda: webhook.received("/slack"), 30, "the Slack message")[0]
        (attachment,) = slack.body["attachments"]
        assert attachment["title"] == f"[FIRING:1] CameraDown on {target}"
        assert (
            f"FIRING (critical): camera gate on {target} delivers no frames" in attachment["text"]
        )
        assert "aistack cannot read camera gate" in attachment["text"]
        assert slack.body["channel"] == "#aistack-alerts"
        mail = _wait_for(lambda: smtp.mails, 30, "the email")[0]
        assert mail.auth == ["", "aistack-alerts@example.org", SMTP_PASSWORD]
        assert mail.recipients == ["<oncall@example.org>"]
        assert f"Subject: [FIRING:1] CameraDown on {target}" in mail.data
        assert "aistack cannot read camera gate" in mail.data

        # The worker stops: its camera's series go stale, CameraDown resolves and
        # AistackWorkerDown fires in its place.
        pipeline.stop()
        runner.join(timeout=30)
        server.stop()
        _wait_for(
            lambda: _firing(webhook.received("/alerts"), "AistackWorkerDown"),
            timeout=60,
            what="AistackWorkerDown at the webhook",
        )
        _wait_for(
            lambda: any(
                a["labels"]["alertname"] == "CameraDown" and a["status"] == "resolved"
                for p in webhook.received("/alerts")
                for a in p.body["alerts"]
            ),
            timeout=60,
            what="CameraDown resolved at the webhook",
        )
        assert _query(prometheus, "up")["status"] == "success"
    finally:
        pipeline.stop()
        runner.join(timeout=30)
        server.stop()
    assert not runner.is_alive()


@pytest.mark.services
def test_every_rule_evaluates_cleanly_against_real_exporters(
    tmp_path: Path,
    node_exporter: Server,
    prometheus_server: Callable[..., Server],
) -> None:
    """The shipped rules, unchanged, run without errors on real aistack and node-exporter data."""
    metrics = PipelineMetrics()
    metrics.camera_up.labels("gate").set(1)
    metrics.frames.labels("gate").inc(10)
    metrics.inference_seconds.labels("NanoDetDetector").observe(0.03)
    metrics.end_to_end_latency.labels("gate").observe(0.1)
    metrics.last_frame_age.seen("gate", time.time() - 0.1)
    metrics.crossed.labels("gate", "door", "person", "in").inc()
    metrics.zone_entries.labels("gate", "plaza", "person").inc()
    metrics.sink_errors.labels("sqlite").inc()
    server = MetricsServer(metrics, "127.0.0.1", 0)
    try:
        prometheus = prometheus_server(
            {"aistack": [f"127.0.0.1:{server.port}"], "node": [node_exporter.url]},
            rule_files=[RULES],
        )

        def rules() -> list[dict[str, Any]]:
            with urllib.request.urlopen(f"{prometheus.url}/api/v1/rules", timeout=10) as answer:
                groups = json.loads(answer.read())["data"]["groups"]
            return [rule for group in groups for rule in group["rules"]]

        def evaluated_with_node_data() -> bool:
            scraped = _query(prometheus, 'up{job="node"} == 1')["data"]["result"]
            return bool(scraped) and all(
                not rule["lastEvaluation"].startswith("0001") for rule in rules()
            )

        _wait_for(evaluated_with_node_data, 30, "every rule evaluated after a first scrape")
        time.sleep(2)  # a few more evaluations, with data from both targets in every one
        shipped = yaml.safe_load(RULES.read_text())["groups"]
        expressions = {
            r.get("alert", r.get("record")): r["expr"] for g in shipped for r in g["rules"]
        }
        loaded = rules()
        assert {r["name"] for r in loaded} == set(expressions)
        unhealthy = {r["name"]: r.get("lastError") for r in loaded if r["health"] != "ok"}
        assert not unhealthy

        answer = _query(prometheus, expressions["NodeDiskFull"])
        assert answer["status"] == "success"
        assert answer["data"]["resultType"] == "vector"  # empty unless this disk is nearly full
        available = _query(prometheus, 'node_filesystem_avail_bytes{job="node"}')
        assert available["data"]["result"], "node-exporter reports no filesystem"
    finally:
        server.stop()
