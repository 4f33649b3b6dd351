#!/usr/bin/env python3
"""Turns the built-in schema (schema/autoupdate.json) into C++ tables (generated/builtin_schema.cpp), so
the agent does not parse JSON at every start. The tables carry the file's fields as written; defaults and
normalisation stay in Schema::BuiltIn (src/config/schema.cpp), shared with schema files read at run time.

  schema_to_cpp.py SCHEMA_JSON OUTPUT_CPP
"""
import json
import sys


def c_string(s):
    return json.dumps(s, ensure_ascii=True)  # a JSON string literal is a valid C++ literal here


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    doc = json.loads(text)
    if doc.get("tables"):
        sys.exit(f"{src}: tables in the built-in schema are not supported by {sys.argv[0]}")
    known = {"name", "type", "min", "max", "max_length", "secret", "values", "allowed", "default", "cli",
             "restart", "transient", "lifeline", "description", "format"}
    lines = ["// Generated from schema/autoupdate.json by src/config/gen/schema_to_cpp.py.",
             '#include "config/builtin_schema.hpp"', "", "namespace autoprov {", "namespace {"]
    rows = []
    for i, p in enumerate(doc["parameters"]):
        unknown = set(p) - known
        if unknown:
            sys.exit(f"{src}: parameter {p.get('name')}: unknown fields {sorted(unknown)}")
        # Enum values in key order, as a JSON object read by nlohmann::json (std::map) gives them.
        values = sorted(p.get("values", {}).items())
        lines.append(f"constexpr BuiltinChoice kValues{i}[] = {{" +
                     "".join(f"{{{c_string(k)}, {int(v)}}}, " for k, v in values) + "{nullptr, 0}};")
        lines.append(f"constexpr const char* kAllowed{i}[] = {{" +
                     "".join(c_string(a) + ", " for a in p.get("allowed", [])) + "nullptr};")
        lines.append(f"constexpr const char* kCli{i}[] = {{" +
                     "".join(c_string(a) + ", " for a in p.get("cli", [])) + "nullptr};")
        rows.append("    {" + ", ".join([
            c_string(p["name"]), c_string(p.get("type", "string")),
            f"{int(p.get('min', 0))}LL", f"{int(p.get('max', 0))}LL", f"{int(p.get('max_length', 0))}u",
            "true" if p.get("secret") else "false", f"kValues{i}", f"kAllowed{i}",
            c_string(p.get("default", "")), c_string(p.get("format", "")), f"kCli{i}",
            "true" if p.get("restart") else "false", "true" if p.get("transient") else "false",
            "true" if p.get("lifeline") else "false", c_string(p.get("description", ""))]) + "},")
    lines += ["}  // namespace", "", "const BuiltinParam kBuiltinParams[] = {"] + rows + [
        "    {nullptr, nullptr, 0, 0, 0, false, nullptr, nullptr, nullptr, nullptr, nullptr, false, false, "
        "false, nullptr},", "};", "",
        "// The file itself, for the test that reads it back through Schema::FromJson.",
        f'const char* const kBuiltinSchemaJson = R"AUTOPROV_SCHEMA({text})AUTOPROV_SCHEMA";', "",
        "}  // namespace autoprov", ""]
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    import os
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
