"""Reads a job (JSON on stdin, written by tests/validators/validators_test.go) and answers on
stdout: every schema compiled strictly by Python jsonschema, each instance validated with the
hub's formats and with patterns only."""

import json
import sys

from yjshub_formats import compile_strict, current_divisions, format_checker


def main():
    job = json.load(sys.stdin)
    divisions = current_divisions(job["divisions_tsv"])
    full, patterns_only = format_checker(divisions), format_checker(divisions, with_formats=False)
    out = {"compiled": 0, "compile_errors": [], "results": []}
    validators = {}
    for s in job.get("schemas") or []:
        try:
            validators[s["id"]] = (compile_strict(s["schema"], full), compile_strict(s["schema"], patterns_only))
            out["compiled"] += 1
        except Exception as e:  # every failure is reported, not just the first schema's
            out["compile_errors"].append(f"{s['id']}: {e}")
    for c in job.get("instances") or []:
        v = validators.get(c["schema"])
        if v is None:
            out["results"].append({"full": None, "patterns_only": None})
            continue
        errors = [f"/{'/'.join(map(str, e.absolute_path))} {e.validator}" for e in v[0].iter_errors(c["instance"])]
        r = {"full": not errors, "patterns_only": v[1].is_valid(c["instance"])}
        if errors:
            r["errors"] = errors
        out["results"].append(r)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
