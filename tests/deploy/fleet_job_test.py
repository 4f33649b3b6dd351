#!/usr/bin/env python3
"""The Kubernetes Indexed Job of the sharded fleet (deploy/kubernetes/fleet-job.yaml): its fields agree
with each other and with the autoprov it runs.

  fleet_job_test.py MANIFEST AUTOPROV
"""
import re
import shlex
import subprocess
import sys

import yaml

manifest, autoprov = sys.argv[1], sys.argv[2]
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
by_kind = {d["kind"]: d for d in docs}
check(set(by_kind) == {"ConfigMap", "PersistentVolumeClaim", "Job"},
      "the manifest holds a ConfigMap, a PersistentVolumeClaim and a Job, not %s" % sorted(by_kind))
config, pvc, job = by_kind["ConfigMap"], by_kind["PersistentVolumeClaim"], by_kind["Job"]
check(job["apiVersion"] == "batch/v1", "the Job is batch/v1")
spec = job["spec"]
check(spec.get("completionMode") == "Indexed", "completionMode is Indexed")
completions = spec.get("completions")
check(isinstance(completions, int) and completions >= 1, "completions is a positive number")
check(spec.get("parallelism") == completions, "parallelism equals completions (every shard at once)")
pod = spec["template"]["spec"]
check(pod.get("restartPolicy") == "Never", "restartPolicy is Never (a shard run is not resumed)")
(container,) = pod["containers"]
script = " ".join(container.get("command", []) + container.get("args", []))

# The shard argument: --shard "$JOB_COMPLETION_INDEX/N" with N = completions.
m = re.search(r'--shard\s+"?\$\{?JOB_COMPLETION_INDEX\}?/(\d+)"?', script)
check(m is not None, "the fleet runs with --shard $JOB_COMPLETION_INDEX/N")
if m:
    check(int(m.group(1)) == completions,
          "--shard's M (%s) equals completions (%s)" % (m.group(1), completions))

# Every variable the script uses is set: from the ConfigMap, or Kubernetes' JOB_COMPLETION_INDEX.
env = {e["name"]: e for e in container.get("env", [])}
for var in set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", script)):
    check(var == "JOB_COMPLETION_INDEX" or var in env, "$%s is set in the container's env" % var)
for name, e in env.items():
    ref = e.get("valueFrom", {}).get("configMapKeyRef")
    if ref:
        check(ref["name"] == config["metadata"]["name"], "%s reads the manifest's ConfigMap" % name)
        check(ref["key"] in config["data"], "%s's key %s is in the ConfigMap" % (name, ref["key"]))
check("provisioning-url" in config["data"], "the ConfigMap names the provisioning server")
check(re.fullmatch(r"\d+", str(config["data"].get("devices", ""))) is not None,
      "the ConfigMap's devices is a number")

# The summary goes to the results volume, one file per shard, and that volume is the claim.
mounts = {v["mountPath"]: v["name"] for v in container.get("volumeMounts", [])}
volumes = {v["name"]: v for v in pod.get("volumes", [])}
out = re.search(r'--json-out\s+"?([^"\s]+)"?', script)
check(out is not None, "the fleet writes its summary with --json-out")
if out:
    path = out.group(1)
    check("$JOB_COMPLETION_INDEX" in path, "each shard writes its own file (%s)" % path)
    mount = next((p for p in mounts if path.startswith(p.rstrip("/") + "/")), None)
    check(mount is not None, "%s is on a mounted volume" % path)
    if mount:
        vol = volumes.get(mounts[mount], {})
        check(vol.get("persistentVolumeClaim", {}).get("claimName") == pvc["metadata"]["name"],
              "the results volume is the manifest's PersistentVolumeClaim")
        check("ReadWriteMany" in pvc["spec"]["accessModes"], "every shard's pod can write the results")

# Every option of `autoprov fleet` the script gives exists in this autoprov.
help_text = subprocess.run([autoprov, "fleet", "--help"], capture_output=True, text=True).stdout
help_text += subprocess.run([autoprov, "--help"], capture_output=True, text=True).stdout  # global
fleet_part = script[script.index("autoprov fleet"):] if "autoprov fleet" in script else ""
check(fleet_part != "", "the container runs autoprov fleet")
for opt in set(re.findall(r"(--[a-z][a-z-]*)", fleet_part)):
    check(re.search(r"(^|[\s,])" + re.escape(opt) + r"\b", help_text) is not None,
          "autoprov fleet has %s" % opt)
# The script is valid shell.
check(subprocess.run(["sh", "-n", "-c", " ".join(container.get("args", []))]).returncode == 0,
      "the container's script parses as sh")

for f in failures:
    print("FAIL:", f)
print("%s: %d checks failed" % (manifest, len(failures)))
sys.exit(1 if failures else 0)
