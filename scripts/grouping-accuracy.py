#!/usr/bin/env python3
"""Grouping accuracy of the signature engine on the LogHub 2k samples.

For each of the 16 datasets in ../shared/data/loghub (LogHub, He et al., research licence;
cite loghub), feeds the Content column of its _structured.csv to
`outpost signatures replay --emit events --all-levels` with one catalog and one
canonicalization for all datasets, and compares the fingerprints with the EventIds:
a line counts as correct when its group contains exactly the lines of its true template
(the "grouping accuracy" of the logparser benchmark). Prints a Markdown table.

usage: scripts/grouping-accuracy.py [--bin target/release/outpost] [--loghub DIR]
       [--signatures FILE] [--canonicalization spec,v1] [--json]
"""
import argparse, collections, csv, json, os, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.path.join(root, "target/release/outpost"))
ap.add_argument("--loghub", default=os.path.join(root, "../shared/data/loghub"))
ap.add_argument("--signatures", default=os.path.join(root, "examples/signatures/error_signatures.yml"))
ap.add_argument("--canonicalization", default="spec,v1-nolearn,v1",
                help="comma-separated: spec, v1 (with learning, the default), v1-nolearn")
ap.add_argument("--json", action="store_true")
a = ap.parse_args()

def accuracy(truth, groups):
    members = collections.defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    size = collections.Counter(truth)
    ok = 0
    for idx in members.values():
        ids = {truth[i] for i in idx}
        if len(ids) == 1 and size[next(iter(ids))] == len(idx):
            ok += len(idx)
    return ok / len(truth)

datasets = sorted(d for d in os.listdir(a.loghub) if os.path.isdir(os.path.join(a.loghub, d)))
if not datasets:
    sys.exit(f"no LogHub datasets under {a.loghub}")
versions = a.canonicalization.split(",")
results = {}
for d in datasets:
    path = os.path.join(a.loghub, d, f"{d}_2k.log_structured.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    truth = [r["EventId"] for r in rows]
    text = "".join(r["Content"].replace("\n", " ") + "\n" for r in rows)
    for v in versions:
        learn = ["--no-learn"] if v.endswith("-nolearn") else []
        out = subprocess.run(
            [a.bin, "signatures", "replay", "--signatures", a.signatures,
             "--canonicalization", v.split("-")[0], "--emit", "events", "--all-levels"]
            + learn + ["-"],
            input=text.encode(), capture_output=True, check=True).stdout.decode()
        groups = []
        for line in out.splitlines():
            e = json.loads(line)
            # Noise (allowlisted) lines have no group: each is its own.
            groups.append(e["fingerprint"] or f"noise-{e['line']}")
        if len(groups) != len(truth):
            sys.exit(f"{d}: {len(groups)} events for {len(truth)} lines")
        results.setdefault(d, {})[v] = (accuracy(truth, groups), len(set(groups)), len(set(truth)))

if a.json:
    print(json.dumps(results, indent=1))
    sys.exit(0)
head = "| dataset | templates | " + " | ".join(f"{v}: accuracy | {v}: groups" for v in versions) + " |"
print(head)
print("|" + "---|" * (2 + 2 * len(versions)))
for d in datasets:
    r = results[d]
    t = next(iter(r.values()))[2]
    print(f"| {d} | {t} | " + " | ".join(f"{r[v][0]:.3f} | {r[v][1]}" for v in versions) + " |")
print("| **mean** | | " + " | ".join(
    f"**{sum(results[d][v][0] for d in datasets) / len(datasets):.3f}** | " for v in versions) + " |")
