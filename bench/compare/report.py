"""Writes a run of bench/compare/run.py into bench/RESULTS.md (between its markers) and
draws bench/compare/chart.svg. `python3 bench/compare/report.py RESULTS.json` redraws from a
saved run."""

import json
import math
import os
import sys

BEGIN = "<!-- compare:begin -->"
END = "<!-- compare:end -->"
SERVERS = ["ours", "pg4", "pg5"]
READ_SERVERS = ["ours", "token", "cold", "pg4", "pg5"]
COLOURS = {"ours": "#1f6f8b", "token": "#3a9d5d", "cold": "#7fb3c8", "pg4": "#c0853a", "pg5": "#9b4d73"}
LABELS = {"ours": "ours", "token": "ours, Camden token", "cold": "ours, no kept answers", "pg4": "PostGraphile 4",
          "pg5": "PostGraphile 5"}


def rps_range(runs):
    values = [r["rps"] for r in runs]
    lo, hi = min(values), max(values)
    return f"{lo:,.0f}" if round(lo) == round(hi) else f"{lo:,.0f}-{hi:,.0f}"


def median(values):
    v = sorted(values)
    n = len(v)
    return (v[n // 2] + v[(n - 1) // 2]) / 2 if n else 0.0


def p99(runs):
    return max(r["p99"] or 0 for r in runs)


def ratio(ours, theirs):
    a, b = median([r["rps"] for r in ours]), median([r["rps"] for r in theirs])
    return f"{a / b:.2f}x" if b else "-"


def statements(shape):
    return " / ".join(str(len(shape["sql"][s])) for s in READ_SERVERS if s in shape["sql"])


def table(scale, data):
    lines = [
        f"**{scale}** ({data['values']:,} current values)",
        "",
        "| shape | ours req/s (p50 / p99 ms) | ours, Camden token (p50 / p99) | ours, no kept answers (p50 / p99) "
        "| PostGraphile 4 req/s (p99) | PostGraphile 5 req/s (p99) | ours / PG4 | ours / PG5 | token / PG5 "
        "| no kept answers / PG5 | SQL statements ours / token / no kept / PG4 / PG5 | floor: static JSON req/s "
        "| floor: pgbench of our SQL tps |",
        "|---|---|---|---|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for s in data["shapes"]:
        runs = s["runs"]
        ours = runs["ours"]
        p50 = median([r["p50"] or 0 for r in ours])
        bench = s.get("pgbench", {})
        cold = runs.get("cold") or ours
        cold50 = median([r["p50"] or 0 for r in cold])
        signed = runs.get("token") or ours
        signed50 = median([r["p50"] or 0 for r in signed])
        lines.append(
            f"| {s['name']} | {rps_range(ours)} ({p50:.1f} / {p99(ours):.1f}) "
            f"| {rps_range(signed)} ({signed50:.1f} / {p99(signed):.1f}) "
            f"| {rps_range(cold)} ({cold50:.1f} / {p99(cold):.1f}) "
            f"| {rps_range(runs['pg4'])} ({p99(runs['pg4']):.1f}) | {rps_range(runs['pg5'])} ({p99(runs['pg5']):.1f}) "
            f"| {ratio(ours, runs['pg4'])} | {ratio(ours, runs['pg5'])} | {ratio(signed, runs['pg5'])} "
            f"| {ratio(cold, runs['pg5'])} | {statements(s)} "
            f"| {s['static']['rps']:,.0f} | {bench.get('rps') or 0:,.0f} |"
        )
    sub = {k: [r[k] for r in data["submission"]] for k in SERVERS}
    lines.append(
        f"| one-value submission | {rps_range(sub['ours'])} ({median([r['p50'] or 0 for r in sub['ours']]):.1f} / "
        f"{p99(sub['ours']):.1f}) | | | {rps_range(sub['pg4'])} ({p99(sub['pg4']):.1f}) raw insert "
        f"| {rps_range(sub['pg5'])} ({p99(sub['pg5']):.1f}) raw insert | {ratio(sub['ours'], sub['pg4'])} "
        f"| {ratio(sub['ours'], sub['pg5'])} | | | | | |"
    )
    lines.append("")
    ing = data["ingest"]
    lines.append(
        "Ingest, one CSV return of {:,} rows: ours {} rows/s; PostgreSQL `COPY` of the same rows into a table "
        "built like `observations` (same indexes): {} rows/s; ours / COPY: {}.".format(
            ing[0]["rows"],
            " and ".join(f"{r['rows_per_s']:,.0f}" for r in ing),
            " and ".join(f"{r['copy_rows_per_s']:,.0f}" for r in ing),
            " and ".join(f"{r['rows_per_s'] / r['copy_rows_per_s']:.2f}" for r in ing),
        )
    )
    mem = {}
    for s in data["shapes"]:
        for server in READ_SERVERS:
            for r in s["runs"].get(server, []):
                if r.get("rss_mib"):
                    mem[server] = max(mem.get(server, 0), r["rss_mib"])
    lines.append("")
    lines.append("Peak resident memory under load: " + ", ".join(
        f"{LABELS[k]} {v:.0f} MiB" for k, v in mem.items()) + ".")
    lines.append("")
    return lines


def chart(results):
    rows = []
    for scale, data in results["scales"].items():
        for s in data["shapes"]:
            rows.append((f"{scale}: {s['name']}",
                         {k: median([r['rps'] for r in s['runs'][k]]) for k in READ_SERVERS if k in s['runs']}))
        sub = {k: median([r[k]['rps'] for r in data['submission']]) for k in SERVERS}
        rows.append((f"{scale}: one-value submission", sub))
    left, width, bar, gap = 330, 520, 9, 10
    height = 60 + sum(len(v) for _, v in rows) * bar + len(rows) * gap
    top = max(max(v.values()) for _, v in rows)
    decades = max(1, math.ceil(math.log10(top)))

    def x(v):
        return left + width * (math.log10(max(v, 1)) / decades)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 120}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           f'<text x="10" y="18" font-size="13">Requests a second, log scale ({results["date"]}, '
           f'commit {results["commit"]})</text>']
    for d in range(decades + 1):
        xx = left + width * d / decades
        out.append(f'<line x1="{xx}" y1="28" x2="{xx}" y2="{height - 10}" stroke="#ddd"/>')
        out.append(f'<text x="{xx}" y="40" text-anchor="middle" fill="#666">{10 ** d:,}</text>')
    for i, k in enumerate(READ_SERVERS):
        out.append(f'<rect x="{left + width + 10}" y="{50 + i * 16}" width="10" height="10" fill="{COLOURS[k]}"/>')
        out.append(f'<text x="{left + width + 24}" y="{59 + i * 16}">{LABELS[k]}</text>')
    y = 50
    for label, values in rows:
        out.append(f'<text x="{left - 6}" y="{y + 2 * bar}" text-anchor="end">{label}</text>')
        for k in [k for k in READ_SERVERS if k in values]:
            out.append(f'<rect x="{left}" y="{y}" width="{x(values[k]) - left:.1f}" height="{bar - 1}" '
                       f'fill="{COLOURS[k]}"/>')
            out.append(f'<text x="{x(values[k]) + 3:.1f}" y="{y + bar - 2}" fill="#333" font-size="9">'
                       f'{values[k]:,.0f}</text>')
            y += bar
        y += gap
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(results, root):
    lines = [
        BEGIN,
        f"Run {results['date']}, commit {results['commit']}, on {results['machine']}. Command: "
        f"`{results['command']}`. wrk, 32 connections, two threads; each run as long as the command says, "
        "the servers in turn (ours as shipped, ours with kept answers off, PostGraphile 4, PostGraphile 5); req/s is the range over the rounds, p99 the worst round.",
        "",
    ]
    for scale, data in results["scales"].items():
        lines.extend(table(scale, data))
    lines.append("![requests a second by shape and server](compare/chart.svg)")
    lines.append(END)
    path = os.path.join(root, "bench", "RESULTS.md")
    text = open(path).read()
    block = "\n".join(lines)
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n# Side by side with PostGraphile 4 and 5\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)
    with open(os.path.join(root, "bench", "compare", "chart.svg"), "w") as f:
        f.write(chart(results))


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        write(json.load(f), os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
