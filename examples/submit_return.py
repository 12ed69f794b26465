#!/usr/bin/env python3
"""Submit a return to the London Vision partner API from a CSV file.

Standard library only. The token comes from the environment, never from the command line:

    export LONDON_VISION_TOKEN=$(london-vision token --org camden --role SUBMITTER)
    python3 examples/submit_return.py returns.csv              # submit
    python3 examples/submit_return.py returns.csv --dry-run    # check only, write nothing

The CSV header is measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note.
The idempotency key defaults to a digest of the file, so running the script again after a
network failure never submits the same return twice. Exit status: 0 written (or checked),
1 refused (problems are printed with their CSV line), 2 could not submit.
"""

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", help="the CSV file of values")
    parser.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    parser.add_argument("--key", help="idempotency key (default: a digest of the file)")
    parser.add_argument("--note", help="a note on the whole return")
    args = parser.parse_args()

    url = os.environ.get("LONDON_VISION_URL", "http://127.0.0.1:8080").rstrip("/")
    token = os.environ.get("LONDON_VISION_TOKEN")
    if not token:
        print("set LONDON_VISION_TOKEN to a partner token (london-vision token --org SLUG --role SUBMITTER)", file=sys.stderr)
        return 2
    with open(args.csv, "rb") as f:
        body = f.read()
    key = args.key or "csv-" + hashlib.sha256(body).hexdigest()[:32]
    params = {"idempotencyKey": key}
    if args.dry_run:
        params["dryRun"] = "true"
    if args.note:
        params["note"] = args.note
    request = urllib.request.Request(
        f"{url}/returns.csv?{urllib.parse.urlencode(params)}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            summary = json.load(response)
    except urllib.error.HTTPError as e:
        summary = json.load(e) if e.headers.get_content_type() == "application/json" else {}
        if e.code != 422:
            errors = summary.get("errors") or [{"message": e.reason}]
            print(f"HTTP {e.code}: {errors[0].get('message')}", file=sys.stderr)
            return 2
    except urllib.error.URLError as e:
        print(f"cannot reach {url}: {e.reason}", file=sys.stderr)
        return 2

    verb = "would be" if args.dry_run else "were"
    print(f"return: {summary.get('return') or '-'}{' (replayed: submitted before)' if summary.get('replayed') else ''}")
    print(f"accepted: {summary['accepted']}  unchanged: {summary['unchanged']}  rejected: {summary['rejected']}")
    for problem in summary.get("userErrors", []):
        print(f"  line {problem.get('row')}: {problem['code']}: {problem['message']}")
    if summary.get("userErrors"):
        print("nothing was written: fix the lines above and submit again")
        return 1
    print(f"{summary['accepted']} values {verb} written as new revisions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
