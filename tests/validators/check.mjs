// Reads a job (JSON on stdin, written by tests/validators/validators_test.go) and answers on
// stdout: every schema compiled by a strict ajv, each instance validated with the hub's formats
// and with patterns only, each pattern tried on each probe with new RegExp(p, "u").
import { readFileSync } from "node:fs";
import { newAjv, currentDivisions } from "./formats.mjs";

const job = JSON.parse(readFileSync(0, "utf8"));
const divisions = currentDivisions(job.divisions_tsv);
const full = newAjv({ divisions });
const patternsOnly = newAjv({ divisions, withFormats: false });
const out = { compiled: 0, compile_errors: [], results: [], patterns: [] };
const validators = {};
for (const s of job.schemas ?? []) {
  try {
    validators[s.id] = [full.compile(s.schema), patternsOnly.compile(s.schema)];
    out.compiled++;
  } catch (e) {
    out.compile_errors.push(`${s.id}: ${e.message}`);
  }
}
for (const c of job.instances ?? []) {
  const v = validators[c.schema];
  if (!v) {
    out.results.push({ full: null, patterns_only: null });
    continue;
  }
  const r = { full: v[0](c.instance), patterns_only: v[1](c.instance) };
  if (!r.full) r.errors = v[0].errors.map((e) => `${e.instancePath} ${e.keyword}`);
  out.results.push(r);
}
for (const p of job.patterns ?? []) {
  let re;
  try {
    re = new RegExp(p, "u");
  } catch (e) {
    out.patterns.push({ error: e.message });
    continue;
  }
  out.patterns.push({ matches: job.probes.map((s) => re.test(s)) });
}
process.stdout.write(JSON.stringify(out));
