"""The official OpenAI Node client (npm install openai into a temporary
folder) against lfm2moe-server.  Skipped (exit 77) with a message when node
or npm is missing or the npm registry cannot be reached."""
import os
import shutil
import subprocess
import sys
import tempfile

from server_harness import Server

SKIP = 77


def main():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        print("SKIP: node/npm not installed (apt-get install nodejs npm to run this test)")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="lfm2moe-openai-node-") as tmp:
        r = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "openai"],
                           cwd=tmp, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            print("SKIP: npm install openai failed (no registry access?):\n" + r.stderr[-2000:])
            return SKIP
        shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "openai_client.js"), tmp)
        srv = Server("--api-key", "node-key", "--parallel", "2", "--threads", "1", "--ctx", "4096")
        try:
            run = subprocess.run([node, "openai_client.js", str(srv.port), "lfm2moe-demo-f32.gguf"],
                                 cwd=tmp, capture_output=True, text=True, timeout=300)
        finally:
            rc, log = srv.stop()
        print(run.stdout + run.stderr)
        if run.returncode != 0 or rc != 0 or "Sanitizer" in log:
            print("server exit %r, log:\n%s" % (rc, log[-4000:]))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
