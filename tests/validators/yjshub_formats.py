"""The hub's formats and annotation keywords for Python jsonschema (draft 2020-12), as the
README's section "Validating a one form" sets them up. The format functions follow
format/format.go; the division list is format/gb2260.tsv (its two-column lines are the current
codes)."""

import datetime
import re

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

# The one-form vocabulary (schemas/forms/one-form.meta.schema.json): annotations only.
VOCABULARY = ("x-order", "x-sections", "x-materials", "x-enum-labels", "x-matters", "x-personal")

_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_GB2260_SHAPE = re.compile(r"(1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])(0000|(0[1-9]|[1-6][0-9]|70|90)[0-9]{2})")


def current_divisions(tsv_path):
    codes = set()
    with open(tsv_path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) == 2:
                codes.add(fields[0])
    return codes


def formats(divisions):
    def gb2260(s):
        return _GB2260_SHAPE.fullmatch(s) is not None and s in divisions

    def gb11643(s):
        if re.fullmatch(r"[0-9]{17}[0-9X]", s) is None or _GB2260_SHAPE.fullmatch(s[:6]) is None:
            return False
        return _birth_and_check(s)

    def residence_permit_hmt(s):
        # 810000 Hong Kong, 820000 Macau, 830000 Taiwan in place of the division code.
        if re.fullmatch(r"[0-9]{17}[0-9X]", s) is None or s[:6] not in ("810000", "820000", "830000"):
            return False
        return _birth_and_check(s)

    def foreign_permanent_resident(s):
        # 2023 edition: 9, a mainland province, a country code other than 000, birth date,
        # sequence, MOD 11-2.
        if re.fullmatch(r"9[0-9]{16}[0-9X]", s) is None:
            return False
        if _GB2260_SHAPE.fullmatch(s[1:3] + "0000") is None or s[1:3] in ("71", "81", "82") or s[3:6] == "000":
            return False
        return _birth_and_check(s)

    def _birth_and_check(s):
        try:
            birth = datetime.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
        except ValueError:
            return False
        if birth.year < 1900 or birth > datetime.date.today():
            return False
        total = sum(int(c) * w for c, w in zip(s[:17], _RESIDENT_WEIGHTS))
        return "10X98765432"[total % 11] == s[17]

    def gb32100(s):
        if len(s) != 18 or any(c not in _USCC_ALPHABET for c in s):
            return False
        total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(s[:17], _USCC_WEIGHTS))
        return _USCC_ALPHABET[(31 - total % 31) % 31] == s[17]

    return {
        "mobile": lambda s: re.fullmatch(r"1[3-9][0-9]{9}", s) is not None,
        "postcode": lambda s: re.fullmatch(r"[0-9]{6}", s) is not None,
        "phone": lambda s: re.fullmatch(r"0[1-9][0-9]{1,2}-?[1-9][0-9]{6,7}(-[0-9]{1,6})?", s) is not None,
        "gb2260": gb2260,
        "gb11643": gb11643,
        "gb32100": gb32100,
        "residence_permit_hmt": residence_permit_hmt,
        "foreign_permanent_resident": foreign_permanent_resident,
        "passport": lambda s: re.fullmatch(r"[A-Z0-9]{5,20}", s) is not None,
        # An individual business's credit code: 9 (市场监管) 2 (个体工商户), then a valid code.
        "gb32100_individual_business": lambda s: s.startswith("92") and gb32100(s),
    }


def format_checker(divisions, with_formats=True):
    """Draft 2020-12's format checker (date, email …) with the hub's formats. With with_formats
    False they are declared but accept anything: what a validator with only the patterns does."""
    checker = FormatChecker()
    for name, check in formats(divisions).items():
        fn = check if with_formats else (lambda s: True)
        checker.checks(name)(lambda v, fn=fn: not isinstance(v, str) or fn(v))
    return checker


# Draft 2020-12 with the vocabulary's annotation keywords known (they assert nothing).
OneFormValidator = jsonschema.validators.extend(Draft202012Validator, {kw: lambda *a: None for kw in VOCABULARY})

_ANNOTATIONS = {"$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default",
                "deprecated", "readOnly", "writeOnly", "$anchor", "$dynamicAnchor", "contentMediaType",
                "contentEncoding", "minContains", "maxContains", "then", "else"}
_SUBSCHEMA = ("items", "not", "if", "then", "else", "contains", "additionalProperties", "propertyNames")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def strict_problems(schema, checker, at="#"):
    """What ajv's strict mode refuses and jsonschema lets by: a keyword no vocabulary declares
    and a format the checker does not know. Empty when the schema is strict."""
    problems = []
    if not isinstance(schema, dict):
        return problems
    known = set(OneFormValidator.VALIDATORS) | _ANNOTATIONS
    for kw, v in schema.items():
        if kw not in known:
            problems.append(f"{at}: unknown keyword {kw}")
        if kw == "format" and v not in checker.checkers:
            problems.append(f"{at}: unknown format {v}")
        if kw in _SUBSCHEMA:
            problems += strict_problems(v, checker, f"{at}/{kw}")
        elif kw in _SUBSCHEMA_LISTS:
            for i, s in enumerate(v):
                problems += strict_problems(s, checker, f"{at}/{kw}/{i}")
        elif kw in _SUBSCHEMA_MAPS:
            for k, s in v.items():
                problems += strict_problems(s, checker, f"{at}/{kw}/{k}")
    return problems


def compile_strict(schema, checker):
    """A validator for schema, after the meta-schema check and the strict walk; raises
    jsonschema.SchemaError naming every problem."""
    OneFormValidator.check_schema(schema)
    problems = strict_problems(schema, checker)
    if problems:
        raise jsonschema.SchemaError("; ".join(problems))
    return OneFormValidator(schema, format_checker=checker)
