"""Print the version written in project() of the top-level meson.build (the
one place the version is set), for the project() of bindings/python/meson.build."""
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
with open(os.path.join(root, "meson.build"), encoding="utf-8") as f:
    m = re.search(r"^project\([^)]*?\bversion\s*:\s*'([^']+)'", f.read(), re.M | re.S)
if not m:
    sys.exit("no version in project() of meson.build")
print(m.group(1))
