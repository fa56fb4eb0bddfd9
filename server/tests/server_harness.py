"""Start lfm2moe-server on a free loopback port and talk to it (stdlib only)."""
import http.client
import json
import os
import re
import signal
import subprocess
import tempfile
import time

SERVER = os.environ["LFM2MOE_SERVER"]
MODEL = os.environ["LFM2MOE_DEMO_MODEL"]


class Server:
    def __init__(self, *args, model=None):
        self.log = tempfile.NamedTemporaryFile(prefix="lfm2moe-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([SERVER, "-m", model or MODEL, "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 60
        while True:
            m = re.search(r"on http://127\.0\.0\.1:(\d+) ", self.log_text())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("server did not start:\n" + self.log_text())
            time.sleep(0.05)

    def log_text(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, raw=None):
        """(status, headers, parsed JSON or text)."""
        c = self.conn()
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        c.request(method, path, body=data, headers=headers or {})
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        ctype = r.getheader("Content-Type", "")
        return r.status, r, json.loads(text) if ctype.startswith("application/json") else text

    def stream(self, path, body):
        """POST a streamed request: (status, Content-Type, SSE data payloads)."""
        c = self.conn()
        c.request("POST", path, body=json.dumps(body))
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return r.status, r.getheader("Content-Type"), sse_events(text) if r.status == 200 else text

    def stop(self):
        """SIGTERM; returns (exit status, log)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "hung"
        text = self.log_text()
        os.unlink(self.log.name)
        return rc, text


def sse_events(body):
    """Split an SSE body into its data payloads, checking the framing."""
    assert body.endswith("\n\n"), repr(body[-40:])
    events = body[:-2].split("\n\n")
    out = []
    for e in events:
        assert e.startswith("data: ") and "\n" not in e, repr(e)
        out.append(e[len("data: "):])
    return out
