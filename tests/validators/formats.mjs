// The hub's formats and annotation keywords for ajv (draft 2020-12), as the README's section
// "Validating a one form" sets them up. The format functions follow format/format.go; the
// division list is format/gb2260.tsv (its two-column lines are the current codes).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// ajv is found through NODE_PATH (scripts/validators.sh path), which only require() reads. In
// a project of your own, `import Ajv2020 from "ajv/dist/2020.js"` and
// `import addFormats from "ajv-formats"` do the same.
const require = createRequire(import.meta.url);
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

// The one-form vocabulary (schemas/forms/one-form.meta.schema.json): annotations only.
export const vocabulary = ["x-order", "x-sections", "x-materials", "x-enum-labels", "x-matters", "x-personal"];

const residentWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const usccWeights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

// birthAndCheck checks the birth date (characters 7-14: a real date, 1900 to today) and the MOD
// 11-2 check character that every GB 11643-style number has.
function birthAndCheck(s) {
  const y = +s.slice(6, 10), m = +s.slice(10, 12), d = +s.slice(12, 14);
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (birth.getUTCFullYear() !== y || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d) return false;
  if (y < 1900 || birth.getTime() > Date.now()) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (s.charCodeAt(i) - 48) * residentWeights[i];
  return "10X98765432"[sum % 11] === s[17];
}

// usccValid checks a unified social credit code's alphabet, length and check character.
function usccValid(s) {
  if (s.length !== 18) return false;
  let sum = 0;
  for (let i = 0; i < 18; i++) {
    const v = usccAlphabet.indexOf(s[i]);
    if (v < 0) return false;
    if (i < 17) sum += v * usccWeights[i];
  }
  return usccAlphabet[(31 - (sum % 31)) % 31] === s[17];
}

// currentDivisions reads the current codes of the list.
export function currentDivisions(tsvPath) {
  const codes = new Set();
  for (const line of readFileSync(tsvPath, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split("\t");
    if (f.length === 2) codes.add(f[0]);
  }
  return codes;
}

export function formats(divisions) {
  const gb2260Shape = /^(1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])(0000|(0[1-9]|[1-6][0-9]|70|90)[0-9]{2})$/u;
  return {
    mobile: /^1[3-9][0-9]{9}$/u,
    postcode: /^[0-9]{6}$/u,
    phone: /^0[1-9][0-9]{1,2}-?[1-9][0-9]{6,7}(-[0-9]{1,6})?$/u,
    gb2260: (s) => gb2260Shape.test(s) && divisions.has(s),
    gb11643: (s) => /^[0-9]{17}[0-9X]$/u.test(s) && gb2260Shape.test(s.slice(0, 6)) && birthAndCheck(s),
    // 810000 Hong Kong, 820000 Macau, 830000 Taiwan in place of the division code.
    residence_permit_hmt: (s) => /^8[123]0000[0-9]{11}[0-9X]$/u.test(s) && birthAndCheck(s),
    // 2023 edition: 9, a mainland province, a country code other than 000, birth date, sequence,
    // MOD 11-2.
    foreign_permanent_resident: (s) =>
      /^9[0-9]{16}[0-9X]$/u.test(s) && gb2260Shape.test(s.slice(1, 3) + "0000") &&
      !["71", "81", "82"].includes(s.slice(1, 3)) && s.slice(3, 6) !== "000" && birthAndCheck(s),
    passport: /^[A-Z0-9]{5,20}$/u,
    // An individual business's credit code: 9 (市场监管) 2 (个体工商户), then a valid code.
    gb32100_individual_business: (s) => s.startsWith("92") && usccValid(s),
    gb32100: usccValid,
  };
}

// newAjv returns a strict ajv for the one form's schemas. With withFormats false, the hub's
// formats are declared but assert nothing: what a validator that has only the patterns does.
export function newAjv({ divisions, withFormats = true }) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  for (const keyword of vocabulary) ajv.addKeyword({ keyword, schemaType: ["array", "object", "boolean"] });
  for (const [name, f] of Object.entries(formats(divisions))) {
    ajv.addFormat(name, { type: "string", validate: withFormats ? f : () => true });
  }
  return ajv;
}
