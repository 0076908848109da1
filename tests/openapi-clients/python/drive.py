"""Drives a hub through a client that openapi-python-client generated from its OpenAPI document.

The Python half of cmd/yjshub/generated_clients_test.go, which generates the package `hubclient`
from the document the hub serves (scripts/openapi-clients.sh installs the generator) and runs
this file with the package on sys.path: list the bundles, read the one form of the
application's bundle, submit the application and read the case it became, each through the
generated functions and models, as a platform's Python team would.

    python drive.py CLIENT_DIR   with HUB_URL, HUB_KEY (a platform client's key), APPLICATION
                                 (an application file) and IDEMPOTENCY_KEY in the environment

It prints one JSON line of what it saw; any step that goes wrong exits 1 naming it.
"""

import json
import os
import sys
from http import HTTPStatus

sys.path.insert(0, sys.argv[1])

from hubclient import AuthenticatedClient  # noqa: E402
from hubclient.api.cases import get_case, submit_case  # noqa: E402
from hubclient.api.catalogue import get_one_form, list_bundles  # noqa: E402
from hubclient.models import ApplicantType, Application, BundleList, Case, OneForm  # noqa: E402


def fail(step, resp):
    sys.exit(f"drive.py: {step}: {int(resp.status_code)} {resp.content[:600]!r}")


def main():
    with open(os.environ["APPLICATION"], encoding="utf-8") as f:
        raw = json.load(f)
    app = Application.from_dict(raw)
    client = AuthenticatedClient(base_url=os.environ["HUB_URL"], token=os.environ["HUB_KEY"],
                                 raise_on_unexpected_status=True, timeout=30.0)
    with client:
        resp = list_bundles.sync_detailed(client=client)
        if resp.status_code != HTTPStatus.OK or not isinstance(resp.parsed, BundleList):
            fail("list bundles", resp)
        bundles = resp.parsed.bundles
        if raw["bundle"] not in [b.code for b in bundles]:
            sys.exit(f"drive.py: list bundles: {raw['bundle']} is not among the {len(bundles)} bundles")

        resp = get_one_form.sync_detailed(raw["bundle"], client=client,
                                          applicant_type=ApplicantType(raw["applicant_type"]))
        if resp.status_code != HTTPStatus.OK or not isinstance(resp.parsed, OneForm):
            fail("get the form", resp)
        form = resp.parsed
        codes = {f.code for f in form.fields}
        unknown = sorted(k for k in raw["form"] if k not in codes)
        if unknown:
            sys.exit("drive.py: the application's fields " + ", ".join(unknown) + " are not fields of the form")

        resp = submit_case.sync_detailed(client=client, body=app,
                                         idempotency_key=os.environ["IDEMPOTENCY_KEY"])
        if resp.status_code != HTTPStatus.CREATED or not isinstance(resp.parsed, Case):
            fail("submit", resp)
        submitted = resp.parsed

        resp = get_case.sync_detailed(submitted.id, client=client)
        if resp.status_code != HTTPStatus.OK or not isinstance(resp.parsed, Case):
            fail("read the case", resp)
        case = resp.parsed
        if case.id != submitted.id:
            sys.exit(f"drive.py: read the case {submitted.id}: answered case {case.id}")

    print(json.dumps({
        "client": "openapi-python-client",
        "bundles": len(bundles),
        "form_fields": len(form.fields),
        "case_id": case.id,
        "bundle": case.bundle.code,
        "state": case.state.value,
        "subcases": len(case.subcases),
    }))


if __name__ == "__main__":
    main()
