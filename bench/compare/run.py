#!/usr/bin/env python3
"""Side by side with PostGraphile 4 and 5, on the same PostgreSQL data.

One command (see bench/README.md):

    python3 bench/compare/run.py

builds the release binary, installs wrk (Debian) and PostGraphile 4 and 5 (npm, into
target/bench-compare), creates one PostgreSQL database per scale, loads it through the
product's own paths, points both PostGraphile versions at views of the same tables, runs
every shape against the three servers in turn (ours, PostGraphile 4, PostGraphile 5, ours,
... so that the machine's drift falls on all alike), and writes the report into
bench/RESULTS.md and the chart into bench/compare/chart.svg.

Scales. S: the 43 seeded measures, the 39 areas, ten periods of synthetic values
(`london-vision demo`, which submits and approves returns through the returns pipeline).
M: S plus 100 monthly measures created by `createMeasure`, each with 39 areas x 260 months of
values sent as CSV returns (`POST /returns.csv`) and approved by `approveReturn`: 1,014,000
values more.

Options: --scales S,M  --duration 10 (seconds of load per run)  --rounds 2  --clients 32
--database-url postgres://postgres@127.0.0.1:5432  --reload (drop and load the databases
again).
"""

import argparse
import base64
import datetime
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRATCH = os.path.join(ROOT, "target", "bench-compare")
BINARY = os.path.join(ROOT, "target", "release", "london-vision")
POSTGRAPHILE_4 = "4.14.1"
POSTGRAPHILE_5 = "5.1.5"
# PostGraphile 5 needs Node 22 or later; the machine's Node may be older. Node's own
# binaries come from the npm registry (package `node`), used for both versions alike.
NODE = "22"
PORTS = {"ours": 18080, "token": 18080, "cold": 18081, "pg4": 18084, "pg5": 18085, "static": 18090}
SERVERS = ["ours", "pg4", "pg5"]
# The read shapes run on ours twice: as shipped (anonymous answers kept while the data is
# unchanged) and with that cache off (`RESPONSE_CACHE_BYTES=0`), every request executed.
READ_SERVERS = ["ours", "token", "cold", "pg4", "pg5"]
# The Camden SUBMITTER token the "token" column sends to our server (as a partner script does).
TOKENS = {}
LABELS = {"ours": "ours", "pg4": "PostGraphile 4", "pg5": "PostGraphile 5"}
MONTHLY_MEASURES = 100
MONTHS = 260
INGEST_MEASURES = 10
SECRET = "bench-compare-signing-key-0123456789abcdef"
STATIC_JSON = None  # the floor's executable, once built


def log(*parts):
    print("[compare]", *parts, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$", " ".join(cmd) if isinstance(cmd, list) else cmd)
    return subprocess.run(cmd, check=True, **kw)


def psql(url, sql, db=None):
    target = f"{url}/{db}" if db else f"{url}/postgres"
    out = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", target, "-c", sql],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


# ---------------------------------------------------------------- set-up


def install():
    if shutil.which("wrk") is None:
        run(["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL)
    run(["cargo", "build", "--release", "--locked", "--bin", "london-vision"], cwd=ROOT)
    # In the release profile, so that it shares the release build of the library.
    built = subprocess.run(["cargo", "build", "--release", "--locked", "--bench", "static_json",
                            "--message-format=json"], cwd=ROOT, check=True, capture_output=True, text=True)
    for line in built.stdout.splitlines():
        message = json.loads(line)
        if message.get("target", {}).get("name") == "static_json" and message.get("executable"):
            global STATIC_JSON
            STATIC_JSON = message["executable"]
    for name, package in [("node", f"node@{NODE}"), ("pg4", f"postgraphile@{POSTGRAPHILE_4}"),
                          ("pg5", f"postgraphile@{POSTGRAPHILE_5}")]:
        folder = os.path.join(SCRATCH, name)
        if os.path.exists(os.path.join(folder, "node_modules", ".bin", name if name == "node" else "postgraphile")):
            continue
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "package.json"), "w") as f:
            f.write('{"private": true}\n')
        extra = ["pg"] if name == "pg5" else []
        run(["npm", "install", "--no-audit", "--no-fund", "--silent", package, *extra], cwd=folder)


class Process:
    """A server in the background, stopped at exit."""

    def __init__(self, name, cmd, env, cwd=ROOT):
        self.name = name
        out = open(os.path.join(SCRATCH, f"{name}.log"), "w")
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def rss_kib(self):
        """Resident memory of the server and its children, in KiB."""
        total = 0
        for pid in [self.proc.pid, *children(self.proc.pid)]:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total


def children(pid):
    out = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            for c in f.read().split():
                out.append(int(c))
                out.extend(children(int(c)))
    except OSError:
        pass
    return out


def post(url, body, token=None, content_type="application/json", timeout=600):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", content_type)
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def gql(port, query, variables=None, token=None):
    status, body = post(f"http://127.0.0.1:{port}/graphql", {"query": query, "variables": variables or {}}, token)
    answer = json.loads(body)
    if status != 200 or answer.get("errors"):
        raise RuntimeError(f"port {port}: {status} {body[:500]!r}")
    return answer["data"]


def port_free(port):
    """Refuses to start a server on a port something else already answers on (a server left
    over from an earlier run would be measured in its place)."""
    try:
        post(f"http://127.0.0.1:{port}/graphql", {"query": "{ __typename }"}, timeout=2)
    except urllib.error.URLError:
        return
    except Exception:
        pass
    raise RuntimeError(f"port {port} is already in use: stop what listens there first")


def wait_ready(port, proc, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} stopped; see {SCRATCH}/{proc.name}.log")
        try:
            gql(port, "{ __typename }")
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"{proc.name} did not start; see {SCRATCH}/{proc.name}.log")


def our_env(url, db):
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"{url}/{db}",
        "LISTEN_ADDR": f"127.0.0.1:{PORTS['ours']}",
        "DATA_DIR": os.path.join(SCRATCH, f"data-{db}"),
        "JWT_SECRET": SECRET,
        "RUST_LOG": "warn",
        # The benchmark is one client address asking for far more than a partner would.
        "RATE_LIMIT_POINTS_PER_HOUR": "0",
        "RATE_LIMIT_ANONYMOUS_POINTS_PER_HOUR": "0",
    })
    return env


def token(env, org, role, subject):
    out = subprocess.run([BINARY, "token", "--org", org, "--role", role, "--subject", subject, "--ttl", "1d"],
                         env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


# ---------------------------------------------------------------- data


def months(count, last=(2024, 12)):
    y, m = last
    out = []
    for _ in range(count):
        out.append(f"{y:04d}-{m:02d}")
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return list(reversed(out))


def create_measures(admin, slugs, name):
    for slug in slugs:
        data = gql(PORTS["ours"], """mutation($i: CreateMeasureInput!) { createMeasure(input: $i) {
            measure { slug } userErrors { code message } } }""", {"i": {
            "slug": slug, "name": f"{name} {slug}", "description": f"Benchmark measure {slug}: synthetic.",
            "unit": "PERCENT", "polarity": "LOW_IS_GOOD", "periodType": "MONTH"}}, admin)
        errors = data["createMeasure"]["userErrors"]
        if errors and not any(e["code"] == "CONFLICT" for e in errors):
            raise RuntimeError(f"createMeasure {slug}: {errors}")


def csv_rows(slugs, codes, periods, seed):
    rnd = random.Random(seed)
    lines = ["measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note"]
    for slug in slugs:
        for code in codes:
            for p in periods:
                num = rnd.randint(50, 500)
                den = rnd.randint(10_000, 20_000)
                lines.append(f"{slug},{code},{p},{num / den * 100!r},{num},{den},,,")
    return ("\n".join(lines) + "\n").encode()


def submit_csv(submitter, body, key):
    url = f"http://127.0.0.1:{PORTS['ours']}/returns.csv?organisation=gla&idempotencyKey={key}"
    started = time.perf_counter()
    status, answer = post(url, body, submitter, content_type="text/csv")
    seconds = time.perf_counter() - started
    summary = json.loads(answer)
    if status != 200:
        raise RuntimeError(f"CSV return refused: {status} {answer[:500]!r}")
    return summary, seconds


def approve(approver, return_id):
    data = gql(PORTS["ours"], """mutation($id: ID!) { approveReturn(input: { id: $id }) {
        return { status } userErrors { code message } } }""", {"id": return_id}, approver)
    if data["approveReturn"]["return"]["status"] != "APPROVED":
        raise RuntimeError(f"approval: {data}")


def area_codes(url, db):
    return psql(url, "SELECT code FROM geographies ORDER BY id", db).split("\n")


def load(url, db, scale, env):
    """Loads a fresh database through the product: migrations and seed at start, the demo
    data (S), and for M the monthly measures by mutation and their values by CSV returns."""
    log(f"loading {db} ({scale})")
    run([BINARY, "migrate"], env=env, stdout=subprocess.DEVNULL)
    run([BINARY, "seed"], env=env, stdout=subprocess.DEVNULL)
    run([BINARY, "demo"], env=env, stdout=subprocess.DEVNULL)
    if scale != "M":
        return
    server = start_ours(env)
    try:
        admin = token(env, "gla", "ADMIN", "bench-admin")
        submitter = token(env, "gla", "SUBMITTER", "bench-loader")
        approver = token(env, "gla", "APPROVER", "bench-approver")
        slugs = [f"monthly-{i:03d}" for i in range(1, MONTHLY_MEASURES + 1)]
        create_measures(admin, slugs, "Monthly benchmark measure")
        codes = area_codes(url, db)
        periods = months(MONTHS)
        for start in range(0, len(slugs), 10):
            batch = slugs[start:start + 10]
            body = csv_rows(batch, codes, periods, start)
            summary, seconds = submit_csv(submitter, body, f"bench-load-{start}")
            log(f"  {batch[0]}..{batch[-1]}: {summary['accepted']} values in {seconds:.1f} s")
            approve(approver, summary["return"])
    finally:
        server.stop()


def database(url, scale, reload):
    db = f"lv_compare_{scale.lower()}"
    exists = psql(url, f"SELECT 1 FROM pg_database WHERE datname = '{db}'") == "1"
    loaded = exists and psql(url, "SELECT to_regclass('pgl.observations') IS NOT NULL", db) == "t"
    if reload or not loaded:
        psql(url, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql(url, f"CREATE DATABASE {db}")
        env = our_env(url, db)
        shutil.rmtree(env["DATA_DIR"], ignore_errors=True)
        load(url, db, scale, env)
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", f"{url}/{db}", "-f",
             os.path.join(ROOT, "bench", "compare", "postgraphile.sql")], stdout=subprocess.DEVNULL)
        psql(url, "VACUUM ANALYZE", db)
    return db


# ---------------------------------------------------------------- servers


def start_ours(env, name="ours"):
    port_free(PORTS[name])
    if name == "cold":
        env = dict(env, RESPONSE_CACHE_BYTES="0", LISTEN_ADDR=f"127.0.0.1:{PORTS['cold']}")
    p = Process(name, [BINARY, "serve"], env)
    wait_ready(PORTS[name], p)
    return p


def start_postgraphile(version, url, db):
    env = dict(os.environ, NODE_ENV="production")
    folder = os.path.join(SCRATCH, version)
    node = os.path.join(SCRATCH, "node", "node_modules", ".bin", "node")
    bin_ = os.path.realpath(os.path.join(folder, "node_modules", ".bin", "postgraphile"))
    port = str(PORTS[version])
    if version == "pg4":
        cmd = [node, bin_, "-c", f"{url}/{db}", "-s", "pgl", "-p", port, "-n", "127.0.0.1", "--disable-query-log",
               "--max-pool-size", "16"]
    else:
        cmd = [node, bin_, "-P", "postgraphile/presets/amber", "-c", f"{url}/{db}", "-s", "pgl", "-p", port,
               "-n", "127.0.0.1"]
    port_free(PORTS[version])
    p = Process(version, cmd, env, cwd=folder)
    wait_ready(PORTS[version], p)
    return p


# ---------------------------------------------------------------- shapes


def cursor(observation_id):
    return base64.urlsafe_b64encode(f"cursor:{observation_id}".encode()).decode().rstrip("=")


def shapes(url, db, scale):
    """Each shape: our query and PostGraphile's nearest equivalent (same rows and fields)."""
    lookup = "school-readiness"
    picture_measure = "reception-overweight"
    picture_period = "2023/24"
    picture_id = psql(url, f"SELECT id FROM measures WHERE slug = '{picture_measure}'", db)
    deep = "monthly-050" if scale == "M" else "reception-overweight"
    deep_id = psql(url, f"SELECT id FROM measures WHERE slug = '{deep}'", db)
    rows = int(psql(url, f"SELECT count(*) FROM current_values WHERE measure_id = {deep_id}", db))
    middle = psql(url, f"SELECT observation_id FROM current_values WHERE measure_id = {deep_id} "
                       f"ORDER BY observation_id OFFSET {rows // 2} LIMIT 1", db)
    return [
        {
            "name": "one measure by slug",
            "ours": f'{{ measure(slug: "{lookup}") {{ id slug name unit polarity periodType }} }}',
            "pgl": f'{{ measureBySlug(slug: "{lookup}") {{ id slug name unit polarity periodType }} }}',
        },
        {
            "name": "33 boroughs x 5 measures, one period",
            "ours": """{ measures(first: 5) { nodes { slug observations(period: "2023/24", level: BOROUGH, first: 40) {
                nodes { value numerator denominator geography { code name } } } } } }""",
            "pgl": """{ allMeasures(first: 5, orderBy: POSITION_ASC) { nodes { slug
                observationsByMeasureId(condition: { period: "2023/24", level: "BOROUGH" }, first: 40, orderBy: GEOGRAPHY_ID_ASC) {
                nodes { value numerator denominator geographyByGeographyId { code name } } } } } }""",
        },
        {
            "name": "43 measures x 40 observations",
            "ours": """{ measures(first: 43) { nodes { slug observations(first: 40) {
                nodes { period value geography { code } } } } } }""",
            "pgl": """{ allMeasures(first: 43, orderBy: POSITION_ASC) { nodes { slug
                observationsByMeasureId(first: 40, orderBy: PRIMARY_KEY_ASC) {
                nodes { period value geographyByGeographyId { code } } } } } }""",
        },
        {
            "name": "picture of one measure and period",
            "ours": f"""{{ picture(measure: "{picture_measure}", period: "{picture_period}") {{ period aggregation
                london {{ value lowerCi upperCi source coverage {{ expected reported }} trend {{ direction }} }}
                ics {{ geography {{ code }} value lowerCi upperCi comparedToLondon rank trend {{ direction }} }}
                boroughs {{ geography {{ code name }} value numerator denominator lowerCi upperCi
                  comparedToLondon comparedToIcs rank quintile suppressed trend {{ direction assessment }} }} }} }}""",
            # The nearest PostGraphile can give: the same period's values of the 39 areas,
            # without aggregates, intervals, comparisons, ranks or trends.
            "pgl": f"""{{ allObservations(condition: {{ measureId: "{picture_id}", period: "{picture_period}" }}, orderBy: GEOGRAPHY_ID_ASC) {{
                nodes {{ value numerator denominator lowerCi upperCi geographyByGeographyId {{ code name level }} }} }} }}""",
        },
        {
            "name": f"deep page ({rows:,} values, after the middle)",
            "ours": f"""{{ measure(slug: "{deep}") {{ observations(first: 40, after: "{cursor(middle)}") {{
                nodes {{ period value geography {{ code }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}""",
            # Each version's own cursor of the row before the middle, asked of it (`AFTER`).
            "pgl": f"""{{ measureBySlug(slug: "{deep}") {{ observationsByMeasureId(first: 40, orderBy: PRIMARY_KEY_ASC,
                after: "AFTER") {{
                nodes {{ period value geographyByGeographyId {{ code }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}""",
            # Asked at the top level: PostGraphile 5.1.5 fails `offset` on a nested connection.
            "before_middle": f"""{{ allObservations(condition: {{ measureId: "{deep_id}" }}, orderBy: PRIMARY_KEY_ASC,
                first: 1, offset: {rows // 2 - 1}) {{ edges {{ cursor }} }} }}""",
        },
    ]


def lua_for(path, body, token=None, write=None):
    """A wrk script that POSTs `body`; for a write, `write` is (template, areas): each request
    sends the template with `AREA` replaced by one of `areas` at random and `VALUE` by a
    fresh value, so that every request writes."""
    path_ = os.path.join(SCRATCH, f"{abs(hash((json.dumps(body), token, json.dumps(write))))}.lua")
    headers = 'wrk.headers["Content-Type"] = "application/json"\n'
    if token:
        headers += f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    if write is None:
        script = f'wrk.method = "POST"\n{headers}wrk.body = {json.dumps(json.dumps(body))}\n'
    else:
        template, areas = write
        body = json.dumps({"query": template})
        script = (f'wrk.method = "POST"\n{headers}'
                  f'areas = {{{", ".join(json.dumps(a) for a in areas)}}}\n'
                  f'template = {json.dumps(body)}\n'
                  'counter = 0\n'
                  'request = function()\n'
                  '  counter = counter + 1\n'
                  '  local v = string.format("%.6f", 10 + math.random() * 50 + counter * 1e-9)\n'
                  '  local a = areas[math.random(#areas)]\n'
                  '  local b = template:gsub("AREA", a):gsub("VALUE", v)\n'
                  '  return wrk.format(nil, nil, nil, b)\n'
                  'end\n')
    with open(path_, "w") as f:
        f.write(script)
    return path_


WRK_LINE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)", re.M)


def wrk(port, script, duration, clients, server=None):
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            if server:
                samples.append(server.rss_kib())
            time.sleep(0.25)

    t = threading.Thread(target=sample)
    t.start()
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{duration}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}/graphql"], capture_output=True, text=True, check=True).stdout
    stop.set()
    t.join()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for p, v, unit in WRK_LINE.findall(out):
        lat[p] = float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps, "p50": lat.get("50"), "p99": lat.get("99"),
        "non2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else None,
        "rss_mib": round(max(samples) / 1024, 1) if samples else None,
    }


# ---------------------------------------------------------------- SQL statements


def pg_log_file():
    for name in sorted(os.listdir("/var/log/postgresql")):
        if name.endswith(".log"):
            return os.path.join("/var/log/postgresql", name)
    raise RuntimeError("no PostgreSQL log in /var/log/postgresql")


STATEMENT = re.compile(r"LOG:\s+(?:statement|execute [^:]*):\s(.*)$")
PARAMS = re.compile(r"DETAIL:\s+parameters: (.*)$", re.I)


def statements_of(url, db, send):
    """The SQL statements one request runs, from PostgreSQL's log (`log_statement = all`),
    with their parameters written in, so that pgbench can replay them."""
    path = pg_log_file()
    before = os.path.getsize(path)
    send()
    time.sleep(0.5)
    with open(path, errors="replace") as f:
        f.seek(before)
        lines = f.read().split("\n")
    found = []
    for line in lines:
        if f"@{db} " not in line:
            continue
        m = STATEMENT.search(line)
        if m:
            found.append(m.group(1))
            continue
        p = PARAMS.search(line)
        if p and found:
            sql = found[-1]
            values = re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", p.group(1))
            for n, v in sorted(values, key=lambda x: -int(x[0])):
                sql = sql.replace(f"${n}", v)
            found[-1] = sql
    return [s for s in found if s.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK") and not background(s)]


def background(sql):
    """Whether a logged statement is our server's background work rather than the request's:
    the webhook sender looks for due deliveries twice a second, whatever the requests."""
    return '"webhook_deliveries"' in sql


def count_statements(url, db, table, procs):
    psql(url, "ALTER SYSTEM SET log_statement = 'all'")
    psql(url, "ALTER SYSTEM SET log_parameter_max_length = -1")
    psql(url, "SELECT pg_reload_conf()")
    time.sleep(1)
    try:
        for shape in table:
            for server in READ_SERVERS:
                query = shape["query"][server]
                port = PORTS[server]
                bearer = TOKENS.get(server)
                gql(port, query, token=bearer)  # warm: plans and caches, as under load
                shape.setdefault("sql", {})[server] = statements_of(
                    url, db, lambda: gql(port, query, token=bearer))
    finally:
        psql(url, "ALTER SYSTEM RESET log_statement")
        psql(url, "ALTER SYSTEM RESET log_parameter_max_length")
        psql(url, "SELECT pg_reload_conf()")


def pgbench(url, db, statements, duration, clients):
    script = os.path.join(SCRATCH, f"pgbench-{abs(hash(tuple(statements)))}.sql")
    with open(script, "w") as f:
        for s in statements:
            f.write(s.rstrip(";") + ";\n")
    out = subprocess.run(["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(duration), "-f", script,
                          f"{url}/{db}"], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-300:]}
    tps = re.search(r"tps = ([\d.]+)", out.stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    return {"rps": float(tps.group(1)) if tps else None, "avg_ms": float(lat.group(1)) if lat else None}


# ---------------------------------------------------------------- the runs


def response_file(port, query):
    status, body = post(f"http://127.0.0.1:{port}/graphql", {"query": query})
    path = os.path.join(SCRATCH, f"response-{abs(hash(query))}.json")
    with open(path, "wb") as f:
        f.write(body)
    return path, len(body)


def run_static(path, script, duration, clients):
    p = Process("static", [STATIC_JSON, str(PORTS["static"]), path], dict(os.environ))
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            post(f"http://127.0.0.1:{PORTS['static']}/graphql", {"query": "{}"}, timeout=2)
            break
        except Exception:
            time.sleep(0.5)
    try:
        return wrk(PORTS["static"], script, duration, clients)
    finally:
        p.stop()


def ingest(url, db, env, round_):
    """One 101,400-row CSV return (ten new monthly measures x 39 areas x 260 months) through
    `POST /returns.csv`, against PostgreSQL COPY of the same rows into a table built like
    `observations` (same columns, defaults and indexes)."""
    admin = token(env, "gla", "ADMIN", "bench-admin")
    submitter = token(env, "gla", "SUBMITTER", "bench-ingest")
    # New measures each run: a kept database already holds the last run's, whose values would
    # come back unchanged rather than be written.
    run_tag = int(time.time())
    slugs = [f"ingest-{run_tag}-{round_}-{i:02d}" for i in range(1, INGEST_MEASURES + 1)]
    create_measures(admin, slugs, "Ingest benchmark measure")
    codes = area_codes(url, db)
    periods = months(MONTHS)
    body = csv_rows(slugs, codes, periods, 1000 + round_)
    summary, seconds = submit_csv(submitter, body, f"bench-ingest-{round_}-{time.time_ns()}")
    rows = summary["accepted"]
    # The same rows as COPY would write them.
    ids = dict(r.split("|") for r in psql(url, "SELECT slug, id FROM measures WHERE slug LIKE "
                                               f"'ingest-{round_}-%'", db).split("\n"))
    areas = dict(r.split("|") for r in psql(url, "SELECT code, id FROM geographies", db).split("\n"))
    return_id = psql(url, "SELECT max(id) FROM returns", db)
    lines = []
    for line in body.decode().split("\n")[1:]:
        if not line:
            continue
        m, g, p, value, num, den, *_ = line.split(",")
        y, mo = int(p[:4]), int(p[5:])
        start = datetime.date(y, mo, 1)
        end = (datetime.date(y + (mo == 12), mo % 12 + 1, 1) - datetime.timedelta(days=1))
        lines.append(f"{ids[m]}\t{areas[g]}\t{p}\t{start}\t{end}\t1\t{value}\t{num}\t{den}\t{return_id}\t"
                     f"2026-01-01 00:00:00+00\tbench-copy")
    copy_file = os.path.join(SCRATCH, "copy.tsv")
    with open(copy_file, "w") as f:
        f.write("\n".join(lines) + "\n")
    psql(url, "DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (LIKE observations INCLUDING ALL)", db)
    columns = ("measure_id, geography_id, period, period_start, period_end, revision, value, numerator, "
               "denominator, return_id, submitted_at, submitted_by")
    started = time.perf_counter()
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", f"{url}/{db}", "-c",
                    f"\\copy bench_copy ({columns}) FROM '{copy_file}'"], check=True)
    copy_seconds = time.perf_counter() - started
    psql(url, "DROP TABLE bench_copy", db)
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "copy_seconds": copy_seconds,
            "copy_rows_per_s": len(lines) / copy_seconds}


def submission(url, db, env, duration, clients, procs):
    """One value a request: our `submitReturn` against PostGraphile's create mutation on a
    plain table (a raw insert)."""
    submitter = token(env, "gla", "SUBMITTER", "bench-single")
    measure_id = psql(url, "SELECT id FROM measures WHERE slug = 'school-readiness'", db)
    boroughs = psql(url, "SELECT code, id FROM geographies WHERE level = 'BOROUGH'", db).split("\n")
    codes = [b.split("|")[0] for b in boroughs]
    ids = [b.split("|")[1] for b in boroughs]
    mutation = ('mutation { submitReturn(input: { organisation: "gla", values: [{ measure: "school-readiness", '
                'geography: "AREA", period: "2023/24", value: VALUE }] }) { accepted } }')
    ours = lua_for("/graphql", None, submitter, (mutation, codes))
    create = ('mutation { createSubmission(input: { submission: { measureId: "' + measure_id +
              '", geographyId: "AREA", period: "2023/24", value: VALUE } }) { submission { id } } }')
    theirs = lua_for("/graphql", None, None, (create, ids))
    out = {}
    for server in SERVERS:
        script = ours if server == "ours" else theirs
        out[server] = wrk(PORTS[server], script, duration, clients, procs[server])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="S,M")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--reload", action="store_true")
    ap.add_argument("--no-report", action="store_true", help="print the results, leave RESULTS.md alone")
    args = ap.parse_args()
    url = args.database_url.rstrip("/")
    os.makedirs(SCRATCH, exist_ok=True)
    install()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    results = {"date": datetime.date.today().isoformat(), "commit": commit, "machine": machine(),
               "command": " ".join(["python3", "bench/compare/run.py", *sys.argv[1:]]), "scales": {}}
    for scale in args.scales.split(","):
        db = database(url, scale, args.reload)
        env = our_env(url, db)
        procs = {}
        try:
            procs["ours"] = start_ours(env)
            procs["token"] = procs["ours"]
            TOKENS["token"] = token(env, "camden", "SUBMITTER", "bench-camden")
            procs["cold"] = start_ours(env, "cold")
            procs["pg4"] = start_postgraphile("pg4", url, db)
            procs["pg5"] = start_postgraphile("pg5", url, db)
            table = shapes(url, db, scale)
            queries(table)
            for shape in table:
                for server in READ_SERVERS:
                    data = gql(PORTS[server], shape["query"][server], token=TOKENS.get(server))
                    shape.setdefault("answer", {})[server] = len(json.dumps(data))
            count_statements(url, db, table, procs)
            for shape in table:
                shape["runs"] = {s: [] for s in READ_SERVERS}
                shape["scripts"] = {s: lua_for("/graphql", {"query": shape["query"][s]}, TOKENS.get(s))
                                    for s in READ_SERVERS}
            submissions, ingests = [], []
            for round_ in range(1, args.rounds + 1):
                for shape in table:
                    for server in READ_SERVERS:
                        r = wrk(PORTS[server], shape["scripts"][server], args.duration, args.clients, procs[server])
                        log(f"{scale} r{round_} {shape['name']} {server}: {r}")
                        shape["runs"][server].append(r)
                submissions.append(submission(url, db, env, args.duration, args.clients, procs))
                log(f"{scale} r{round_} submission: {submissions[-1]}")
                ingests.append(ingest(url, db, env, round_))
                log(f"{scale} r{round_} ingest: {ingests[-1]}")
            for shape in table:
                path, size = response_file(PORTS["ours"], shape["ours"])
                shape["static"] = run_static(path, shape["scripts"]["ours"], args.duration, args.clients)
                shape["static"]["bytes"] = size
                shape["pgbench"] = pgbench(url, db, shape["sql"]["ours"], args.duration, args.clients)
                log(f"{scale} floor {shape['name']}: static {shape['static']} pgbench {shape['pgbench']}")
            results["scales"][scale] = {
                "values": int(psql(url, "SELECT count(*) FROM current_values", db)),
                "shapes": [{k: v for k, v in s.items() if k != "scripts"} for s in table],
                "submission": submissions, "ingest": ingests,
            }
        finally:
            for p in {id(p): p for p in procs.values()}.values():
                p.stop()
    out = os.path.join(SCRATCH, f"results-{results['date']}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    log(f"results in {out}")
    if not args.no_report:
        import report
        report.write(results, ROOT)


def queries(table):
    """Each server's query of each shape; the deep page carries each version's own cursor."""
    for shape in table:
        shape["query"] = {"ours": shape["ours"], "token": shape["ours"], "cold": shape["ours"]}
        for version in ("pg4", "pg5"):
            q = shape["pgl"]
            if "before_middle" in shape:
                edges = gql(PORTS[version], shape["before_middle"])["allObservations"]
                q = q.replace("AFTER", edges["edges"][0]["cursor"])
            shape["query"][version] = q


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    node = subprocess.run([os.path.join(SCRATCH, "node", "node_modules", ".bin", "node"), "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB; {pg}; Node {node}"


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
