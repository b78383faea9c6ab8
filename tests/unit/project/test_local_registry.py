"""invoke, bench and verify find the project's running `servekit serve` (server.json in its serve folder), and say
how to start one when none runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

from servekit import cli, local, project


def test_while_serve_runs_its_address_is_recorded_and_after_it_the_record_is_gone(tmp_path):
    folder = tmp_path / "serve" / "face"
    with local.announce(folder, SimpleNamespace(url="http://127.0.0.1:18101")):
        assert local.running_url(folder) == "http://127.0.0.1:18101"
    assert local.running_url(folder) is None and not (folder / "server.json").exists()


def test_a_record_left_by_a_killed_serve_is_ignored(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "server.json").write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": dead.pid}))
    assert local.running_url(tmp_path) is None
    (tmp_path / "server.json").write_text(json.dumps({"url": "http://127.0.0.1:2", "pid": os.getpid()}))
    assert local.running_url(tmp_path) == "http://127.0.0.1:2"


def test_when_no_serve_runs_then_invoke_says_how_to_start_one_instead_of_trying_port_8080(tmp_path, capsys):
    (tmp_path / "servekit.yaml").write_text("app: {}\n")
    (tmp_path / "req.json").write_text("{}")
    assert cli.main(["invoke", "face", "--config", str(tmp_path / "servekit.yaml"), "--data",
                     str(tmp_path / "req.json")]) == 1
    err = capsys.readouterr().err
    assert f"no `servekit serve face` runs in the project {tmp_path}" in err and "--port or --url" in err
    assert "8080" not in err


def test_invoke_finds_the_serve_of_the_project_from_another_folder(tmp_path, monkeypatch, capsys):
    import http.server
    import threading

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "servekit.yaml").write_text("app: {}\n")
        (tmp_path / "req.json").write_text("{}")
        elsewhere = tmp_path / "sub" / "dir"
        elsewhere.mkdir(parents=True)
        monkeypatch.chdir(elsewhere)  # servekit.yaml is found upward
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with local.announce(project.of(tmp_path / "servekit.yaml").serve_dir("face"), SimpleNamespace(url=url)):
            assert cli.main(["invoke", "face", "--data", str(tmp_path / "req.json")]) == 0
        assert capsys.readouterr().out == "ok\n"
    finally:
        server.shutdown()
