# SPDX-License-Identifier: Apache-2.0
"""`python3 -m podid_harness.kube serve`, as shell scripts use it."""
import os
import signal
import subprocess
from pathlib import Path


def test_cli_serve(tmp_path):
    kc, port_file = tmp_path / "kubeconfig", tmp_path / "port"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen(["/usr/bin/python3", "-m", "podid_harness.kube", "serve", "--kubeconfig-out", str(kc),
                             "--port-file", str(port_file)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:") and port_file.read_text().strip() == url.rsplit(":", 1)[1]
        text = kc.read_text()
        assert f'server: "{url}"' in text and "certificate-authority-data" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
