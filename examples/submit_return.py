#!/usr/bin/env python3
"""Submit a return to the London Vision partner API from a CSV file.

Standard library only. The token comes from the environment, never from the command line:

    export LONDON_VISION_TOKEN=$(london-vision token --org camden --role SUBMITTER)
    python3 examples/submit_return.py returns.csv              # submit
    python3 examples/submit_return.py returns.csv --dry-run    # check only, write nothing

The CSV header is measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note.
The idempotency key defaults to a digest of the file: it changes when the file does, and
running the script again after a network failure never submits the same return twice. When
the return sent with that key was rejected (or withdrawn), the server says so and the script
stops; `--resend` sends the same file again under a new key (the digest and a resend number).
Exit status: 0 written (or checked), 1 refused (problems are printed with their CSV line),
2 could not submit.
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
    parser.add_argument(
        "--resend", action="store_true",
        help="send the file again after its return was rejected or withdrawn (a new key)",
    )
    args = parser.parse_args()

    url = os.environ.get("LONDON_VISION_URL", "http://127.0.0.1:8080").rstrip("/")
    token = os.environ.get("LONDON_VISION_TOKEN")
    if not token:
        print("set LONDON_VISION_TOKEN to a partner token (london-vision token --org SLUG --role SUBMITTER)", file=sys.stderr)
        return 2
    with open(args.csv, "rb") as f:
        body = f.read()
    base = args.key or "csv-" + hashlib.sha256(body).hexdigest()[:32]
    # A resend takes the next key whose return was not closed: <digest>-resend-1, -2, ...
    for attempt in range(0, 20 if args.resend else 1):
        key = base if attempt == 0 else f"{base}-resend-{attempt}"
        summary = send(url, token, body, key, args)
        if summary is None:
            return 2
        closed = [p for p in summary.get("userErrors", []) if p.get("code") == "RETURN_CLOSED"]
        if not closed:
            break
        if not args.resend:
            print(closed[0]["message"])
            print("nothing was written: fix the file, or run again with --resend to send it as it is")
            return 1

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


def send(url: str, token: str, body: bytes, key: str, args) -> dict | None:
    """POSTs the file with its key; the summary, or None when it could not be sent."""
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
            return json.load(response)
    except urllib.error.HTTPError as e:
        summary = json.load(e) if e.headers.get_content_type() == "application/json" else {}
        if e.code != 422:
            errors = summary.get("errors") or [{"message": e.reason}]
            print(f"HTTP {e.code}: {errors[0].get('message')}", file=sys.stderr)
            return None
        return summary
    except urllib.error.URLError as e:
        print(f"cannot reach {url}: {e.reason}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
