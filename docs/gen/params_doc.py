#!/usr/bin/env python3
"""Writes the parameter reference from the schema as the agent reads it (`autoprov config params --json`):
docs/parameters.md (Markdown) and man/autoprov-parameters.7.scd (scdoc, built into autoprov-parameters(7)).

  params_doc.py PARAMS_JSON OUTPUT.md OUTPUT.7.scd
"""
import json
import sys


def value_range(p):
    if p["type"] == "integer":
        return f"{p['min']}–{p['max']}"
    if p["type"] == "enum":
        return ", ".join(f"{c['value']} ({c['name']})" for c in p["choices"])
    if p["type"] == "list" and p.get("allowed"):
        return "items: " + ", ".join(p["allowed"])
    if p.get("format"):
        return p["format"]
    if p.get("max_length"):
        return f"up to {p['max_length']} characters"
    return ""


def flags(p):
    out = []
    if p["restart"]:
        out.append("restart")
    if p["lifeline"]:
        out.append("lifeline")
    if p["secret"]:
        out.append("secret")
    if p["transient"]:
        out.append("action")
    return ", ".join(out)


def md_escape(s):
    return s.replace("|", "\\|")


def scd_escape(s):
    return s.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def main():
    src, md_out, scd_out = sys.argv[1:4]
    with open(src, encoding="utf-8") as f:
        doc = json.load(f)
    params = doc["parameters"]
    md = ["# autoprov parameters", "",
          "Generated from the schema by `docs/gen/params_doc.py` (`autoprov config params --json`); do not",
          "edit by hand. The same list is the man page autoprov-parameters(7). Flags: *restart* (a change",
          "needs a device restart), *lifeline* (kept by replace-mode files and startup scripts, S-9.2),",
          "*secret* (never shown), *action* (an action in a file, never stored).", "",
          "| parameter | type | range | default | CLI | flags | what |",
          "|---|---|---|---|---|---|---|"]
    for p in params:
        md.append("| `{}` | {} | {} | {} | {} | {} | {} |".format(
            p["name"], p["type"], md_escape(value_range(p)),
            f"`{p['default']}`" if p["default"] != "" else "empty",
            f"`{p['cli']}`" if p.get("cli") else "ini only", flags(p), md_escape(p["description"])))
    with open(md_out, "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")

    scd = ["autoprov-parameters(7)", "", "# NAME", "",
           "autoprov-parameters - the parameters of the autoprov provisioning agent", "",
           "# DESCRIPTION", "",
           "Every parameter the agent knows out of the box, as ini files, CLI scripts and *autoprov config*",
           "name them. An appliance adds its own in _/var/lib/autoprov/schema.d/\\*.json_; *autoprov config",
           "params* lists them all, built-in and added. Names are case-insensitive.", "",
           "A parameter marked *restart* needs a device restart to take effect; *lifeline* parameters",
           "keep the device reachable and are left as they are by replace-mode files and startup scripts",
           "unless the file sets them (S-9.2); *secret* values are never shown.", "",
           "# PARAMETERS", ""]
    for p in params:
        scd.append(f"*{scd_escape(p['name'])}*")
        scd.append(f"\t{scd_escape(p['description'])}.")
        facts = [f"Type: {p['type']}"]
        r = value_range(p)
        if r:
            facts.append(f"range: {scd_escape(r)}")
        facts.append("default: " + (scd_escape(p["default"]) if p["default"] != "" else "empty"))
        if p.get("cli"):
            facts.append("CLI: " + scd_escape(p["cli"]))
        if flags(p):
            facts.append("flags: " + flags(p))
        scd.append("\t" + "; ".join(facts) + ".")
        scd.append("")
    scd += ["# SEE ALSO", "", "*autoprov*(8), *autoprov.ini*(5)", ""]
    with open(scd_out, "w", encoding="utf-8") as f:
        f.write("\n".join(scd))


if __name__ == "__main__":
    main()
