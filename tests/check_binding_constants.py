#!/usr/bin/env python3
"""check_binding_constants.py HEADER PY_NATIVE JAVA_SRC_DIR [VERSION JAR POM]

The constants the Python (lfm2moe/_native.py) and Java (ai/lfm2moe/*.java)
bindings hard-code agree with the enums of include/lfm2moe.h:
  - every LFM2MOE_ERR_* status exists in both, with the header's value;
  - every other constant they define that names a header enumerator (its
    full name without LFM2MOE_, or its tail: PREFETCH for
    LFM2MOE_MODEL_PREFETCH) has that enumerator's value; a constant naming
    none is listed (private indexes and the like are not errors);
  - the stop reasons (Python's STOP_REASONS, Java's StopReason order) match
    lfm2moe_stop_reason.
With VERSION, JAR and POM: the jar's manifest and the Maven POM carry
meson's project version.
(The ctypes struct layouts are checked against the compiler by the
python-bindings test, LayoutTest; the Java side mirrors no struct.)
"""
import ast
import glob
import os
import re
import subprocess
import sys

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def int_expr(text):
    """Value of a C/Java/Python integer expression like `-3`, `1u << 8`."""
    text = re.sub(r"(?<=\d)[uUlL]+\b", "", text.strip())
    if not re.fullmatch(r"[-+0-9xXa-fA-F <()|]+", text):
        return None
    try:
        return eval(text, {"__builtins__": {}})  # digits and operators only
    except Exception:
        return None


def header_enums(path):
    with open(path, encoding="utf-8") as f:
        src = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    out = {}
    for body in re.findall(r"enum\s*\w*\s*\{(.*?)\}", src, flags=re.S):
        for name, value in re.findall(r"\b(LFM2MOE_\w+)\s*=\s*([^,]+)", body):
            v = int_expr(value)
            if v is not None:
                out[name] = v
    return out


def python_constants(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    consts, stop = {}, None
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                v = int_expr(ast.unparse(node.value))
                value = v
            if name == "STOP_REASONS":
                stop = value
            elif isinstance(value, int) and name.isupper():
                consts[name] = value
    return consts, stop


def java_constants(src_dir):
    consts = {}
    for path in glob.glob(os.path.join(src_dir, "**", "*.java"), recursive=True):
        cls = os.path.splitext(os.path.basename(path))[0]
        text = open(path, encoding="utf-8").read()
        for decl in re.findall(r"static final int ([^;]+);", text):
            for part in decl.split(","):
                m = re.fullmatch(r"\s*([A-Z][A-Z0-9_]*)\s*=\s*(.+?)\s*", part)
                if m and int_expr(m.group(2)) is not None:
                    consts["%s.%s" % (cls, m.group(1))] = int_expr(m.group(2))
    return consts


def java_stop_reasons(src_dir):
    text = open(os.path.join(src_dir, "ai", "lfm2moe", "StopReason.java"), encoding="utf-8").read()
    body = re.search(r"enum StopReason\s*\{(.*?);", text, flags=re.S).group(1)
    return [n.strip() for n in body.split(",") if n.strip()]


def header_names(short, header, cls=None):
    """Header enumerators a binding constant may stand for."""
    if cls == "Lfm2MoeException":
        return ["LFM2MOE_ERR_" + short] if "LFM2MOE_ERR_" + short in header else []
    return [h for h in header if h == "LFM2MOE_" + short or h.endswith("_" + short)]


unmatched = []


def compare(where, value, names, header):
    if not names:
        unmatched.append(where)
    elif all(header[n] != value for n in names):
        fail("%s = %d but %s" % (where, value, ", ".join("%s = %d" % (n, header[n])
                                                          for n in names)))


def main():
    header = header_enums(sys.argv[1])
    py, py_stop = python_constants(sys.argv[2])
    java = java_constants(sys.argv[3])
    statuses = {n: v for n, v in header.items() if n.startswith("LFM2MOE_ERR_")}
    stops = {n: v for n, v in header.items() if n.startswith("LFM2MOE_STOP_")}
    assert statuses and stops, "no enums parsed from the header"

    for name, value in statuses.items():
        short = name[len("LFM2MOE_"):]
        if py.get(short) != value:
            fail("Python _native.%s is %s, the header's %s is %d" % (short, py.get(short), name, value))
        jname = "Lfm2MoeException." + short[len("ERR_"):]
        if java.get(jname) != value:
            fail("Java %s is %s, the header's %s is %d" % (jname, java.get(jname), name, value))

    checked = 0
    for name, value in py.items():
        compare("Python _native." + name, value, header_names(name, header), header)
        checked += 1
    for qname, value in java.items():
        cls, name = qname.split(".")
        if cls == "Version":
            continue
        compare("Java " + qname, value, header_names(name, header, cls), header)
        checked += 1
    if unmatched:
        print("binding constants naming no header enumerator (not checked):",
              ", ".join(unmatched))

    header_stop = {v: n[len("LFM2MOE_STOP_"):] for n, v in stops.items()}
    # LFM2MOE_STOP_STRING reads "stop_string" in both bindings.
    expect = {v: ("STOP_STRING" if n == "STRING" else n) for v, n in header_stop.items()}
    if {v: n.upper() for v, n in (py_stop or {}).items()} != expect:
        fail("Python STOP_REASONS %s != header %s" % (py_stop, expect))
    jstop = java_stop_reasons(sys.argv[3])
    if dict(enumerate(jstop)) != expect:
        fail("Java StopReason %s != header %s" % (jstop, expect))

    if len(sys.argv) > 5:
        version, jar = sys.argv[4], sys.argv[5]
        manifest = subprocess.run(["unzip", "-p", jar, "META-INF/MANIFEST.MF"],
                                  stdout=subprocess.PIPE, check=True).stdout.decode()
        if "Implementation-Version: %s" % version not in manifest:
            fail("the jar's manifest lacks Implementation-Version: %s" % version)
        pom = open(sys.argv[6], encoding="utf-8").read()
        if "<version>%s</version>" % version not in pom:
            fail("%s lacks <version>%s</version>" % (sys.argv[6], version))

    print("%d statuses, %d stop reasons, %d other binding constants checked"
          % (len(statuses), len(stops), checked))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
