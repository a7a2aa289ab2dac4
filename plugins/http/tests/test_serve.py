"""``supportkit serve``: the command the package adds, run for real from a configuration file."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import supportkit_http
from http_support import message, signed
from supportkit_http import CONFIG_SCHEMA, ServeCommand, hash_token
from supportkit_http._serve import app_options

from supportkit import ConfigurationError

TOKEN = "serve-reader"


def test_the_plugin_registers_serve_and_its_config_section() -> None:
    """The entry-point module registers ``serve`` and the ``http`` settings table."""
    commands: dict[str, object] = {}
    supportkit_http.supportkit_register_commands(register=commands.__setitem__)
    sections: dict[str, object] = {}
    supportkit_http.supportkit_config_section(register=sections.__setitem__)
    assert isinstance(commands["serve"], ServeCommand)
    assert sections == {"http": CONFIG_SCHEMA}
    parser = argparse.ArgumentParser()
    ServeCommand().add_arguments(parser)
    args = parser.parse_args(["--config", "x.toml", "--port", "9"])
    assert (args.config, args.host, args.port) == ("x.toml", None, 9)


def test_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``"env:NAME"`` reads the secret from the environment; an unset variable is an error."""
    monkeypatch.setenv("SUPPORTKIT_TEST_SECRET", "from-env")
    options = app_options({"secrets": {"json": "env:SUPPORTKIT_TEST_SECRET", "chat": "raw"}})
    assert options["secrets"] == {"json": "from-env", "chat": "raw"}
    monkeypatch.delenv("SUPPORTKIT_TEST_SECRET")
    with pytest.raises(ConfigurationError, match="SUPPORTKIT_TEST_SECRET"):
        app_options({"secrets": {"json": "env:SUPPORTKIT_TEST_SECRET"}})


def test_serve_runs_the_app_from_the_configuration_file(tmp_path: Path) -> None:
    """``supportkit serve --config FILE`` serves the app under uvicorn with the file's
    ``[plugins.http]`` settings: tokens guard the API, the secret checks webhooks."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "supportkit.toml"
    config.write_text(
        f"""
[store]
path = "{tmp_path / "served.sqlite3"}"

[plugins.http]
port = {port}
secrets = {{ json = "env:SERVE_SECRET" }}
open_channels = ["chat"]
tokens = {{ "{hash_token(TOKEN)}" = ["read"] }}
title = "Served desk"
""",
        encoding="utf-8",
    )
    env = {**os.environ, "SERVE_SECRET": "served-secret"}
    executable = Path(sys.executable).parent / "supportkit"  # the console script
    command = [str(executable), "serve", "--config", str(config)]
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError("serve did not start") from None
                time.sleep(0.1)
        body = message(at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))
        answer = httpx.post(
            url + "/inbound/json",
            content=body,
            headers=signed(body, secret="served-secret", at=int(time.time())),
        )
        assert answer.status_code == 202
        assert httpx.get(url + "/api/queue").status_code == 401
        queue = httpx.get(url + "/api/queue", headers={"Authorization": f"Bearer {TOKEN}"})
        assert [row["id"] for row in queue.json()["tickets"]] == [answer.json()["ticket_id"]]
        assert "Served desk" in httpx.get(url + "/", params={"access_token": TOKEN}).text
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
    assert "supportkit serve: http://127.0.0.1" in errors


def test_the_http_table_is_validated_with_the_rest() -> None:
    """An unknown key or a wrong type in ``[plugins.http]`` is a configuration error."""
    from supportkit import ConfigFileError, DeskConfig

    DeskConfig.load({"plugins": {"http": {"port": 8080, "open_channels": ["chat"]}}})
    with pytest.raises(ConfigFileError) as refused:
        DeskConfig.load({"plugins": {"http": {"prot": 8080, "port": "eighty"}}})
    paths = [path for path, _ in refused.value.problems]
    assert any("prot" in path for path in paths)
    assert any("port" in path and "prot" not in path for path in paths)
