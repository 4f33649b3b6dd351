#!/usr/bin/env python3
"""The man page and the program say the same (issue: one source for the docs).

Every long option of every subcommand's --help appears in autoprov(8), and every option the page
names exists in some --help; every hooks.ini key the parser accepts is documented in autoprov(8)
and every documented key is accepted; every parameter the README, the spec, the man pages and the
examples name exists in the schema; the unit path is the package's.
Usage: docs_drift_test.py AUTOPROV SOURCE_DIR
"""
import re
import subprocess
import sys
from pathlib import Path

binary, source = sys.argv[1], Path(sys.argv[2])
page = (source / "man/autoprov.8.scd").read_text()
problems = []


def help_of(path):
    out = subprocess.run([binary, *path, "--help"], capture_output=True, text=True)
    return out.stdout


def walk(path, seen):
    text = help_of(path)
    seen[" ".join(path) or "autoprov"] = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    in_subs = False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            in_subs = True
            continue
        if in_subs:
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s", line)
            if m:
                walk(path + [m.group(1)], seen)
            elif line and not line.startswith(" "):
                in_subs = False


options = {}
walk([], options)
every = set().union(*options.values())
documented = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", page))
for command, opts in sorted(options.items()):
    for o in sorted(opts - {"--help", "--version"}):
        if o not in documented:
            problems.append(f"'{command} {o}' is in --help but not in man/autoprov.8.scd")
for o in sorted(documented - every):
    problems.append(f"man/autoprov.8.scd names {o}, which no --help lists")

# hooks.ini: the keys the parser accepts (src/device/hooks.cpp) against the page's list.
hooks = (source / "src/device/hooks.cpp").read_text()
accepted = set(re.findall(r'IEquals\(k, "(\w+)"\)', hooks))
accepted |= set(re.findall(r'IStartsWith\(k, "(\w+\.)"\)', hooks))  # Apply.<kind>, ...
section = page[page.find("_/var/lib/autoprov/hooks.ini_"):]
section = section[: section.find("\n\n")]
named = set(re.findall(r"\*(\w+\.?)\*", section))
for k in sorted(accepted - named):
    problems.append(f"hooks.ini key {k} is accepted but not documented in autoprov(8)")
for k in sorted(named - accepted):
    problems.append(f"autoprov(8) documents hooks.ini key {k}, which the parser refuses")

# Every parameter the docs and examples name exists in the schema.
names = set(subprocess.run([binary, "config", "params", "--names"], capture_output=True,
                           text=True).stdout.split())
known = {n.lower() for n in names}
not_parameters = {"TLS", "IniFileUrll"}  # the protocol; the README's example of a typo
pattern = re.compile(
    r"\b((?:Aupd|AUPD|AutoUpdate|AutoCmp|Ini|INI|CliScript|CLIStartup|TLS|Tls|SipNotify|FeatureKey"
    r"|CptFile|PrtFile|VpFile|DialPlanFile|UserInfoFile|TemplateUrl|SetDefault|EnableSIP"
    r"|DHCPRequest|ResetNow|CmpFile)\w*)")
docs = [source / "README.md", source / "docs/spec.md", *sorted((source / "man").glob("*.scd")),
        *sorted((source / "examples").rglob("*.ini"))]
for doc in docs:
    for name in sorted(set(pattern.findall(doc.read_text()))):
        if name.lower() not in known and name not in not_parameters:
            problems.append(f"{doc.relative_to(source)} names {name}, which is not a parameter")

# The unit path is where the package installs it.
unit = "/lib/systemd/system/autoprov.service"
for doc in ["man/autoprov.8.scd", "README.md"]:
    text = (source / doc).read_text()
    for m in re.findall(r"/usr/lib/systemd/system/autoprov\.service", text):
        problems.append(f"{doc} names {m}; the package installs {unit}")

# Every fleet counter is documented under its one name, and the README names no counter the fleet
# does not have (src/fleet/counters.hpp holds the names).
header = (source / "src/fleet/counters.hpp").read_text()
table = header[header.index("kCounterNames"):]
counter_names = re.findall(r'"(\w+)"', table[:table.index("};")])
readme = (source / "README.md").read_text()
counters_doc = readme[readme.index("`counters` holds every count"):]
counters_doc = counters_doc[:counters_doc.index("\n\n")]
documented = set(re.findall(r"`(\w+)`", counters_doc)) - {"counters", "update", "fleet"}
for n in counter_names:
    if n not in documented:
        problems.append(f"fleet counter {n} is not documented in the README's `counters`")
for n in sorted(documented - set(counter_names)):
    problems.append(f"the README's `counters` names {n}, which is no fleet counter")

for p in problems:
    print(p)
print(f"{len(options)} commands, {len(every)} options, {len(accepted)} hooks.ini keys checked")
sys.exit(1 if problems else 0)
