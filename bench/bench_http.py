"""HTTP load on PostgreSQL: the production server (gunicorn) against ``popreg runserver``.

    .venv/bin/python bench/bench_http.py [--clients 50] [--seconds 60] [--skip-setup]
                                         [--database popreg_bench_load] [--json]

Setup (kept between runs): a scratch PostgreSQL database (``--database``, default
``popreg_bench_load`` on 127.0.0.1:5432, user postgres; never ``test``), ``popreg migrate``,
the default county (``popreg synth --seed 20251101`` then ``popreg load``, skipped when the
database already holds it), ``popreg collectstatic`` and ``popreg demo_accounts`` with a
known password.  ``--skip-setup`` only resets the demo passwords.

Each server runs on a free port of 127.0.0.1 with ``popreg worker`` beside it (as
``make demo`` and the systemd units run them), in the production profile
(``POPREG_DEPLOYMENT=production``, a random secret key, ``POPREG_ALLOWED_HOSTS=127.0.0.1``).
The loopback run is plain HTTP, so the HTTPS settings of the profile are turned off through
their settings: ``POPREG_SSL_REDIRECT=0``, ``POPREG_SECURE_COOKIES=0``,
``POPREG_HSTS_SECONDS=0``.  The clients log in as the village clerk (``cunyuan``), whom the
production profile does not ask for a second factor (county administrators and auditors).

Load: ``--clients`` threads, each with its own session (one login per client, before the
clock starts), for ``--seconds`` seconds: 45 % searches (the search page with a name from
the clerk's village), 45 % person pages (a person of the clerk's village), 10 % birth
registrations (a POST of the birth form with the session's CSRF token and a new name; a
success is the redirect to the new person's page).  Errors: a status other than 2xx/3xx, a
timeout (30 s), a refused connection, or a registration form shown again instead of the
redirect.  The baseline, in the same run on the same database: ``popreg runserver
--noreload`` under the same load.  Prints per server and request type the count, p50/p95/p99
latency, errors and throughput, then production/runserver ratios of p95 and throughput.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOME = ROOT / "var" / "bench-http"
SEED = 20251101
PASSWORD = "bench-http-Load-2025"
USER = "cunyuan"
TIMEOUT = 30.0
MIX = [("search", 45), ("person", 45), ("register", 10)]
KINDS = [k for k, _ in MIX]
GIVEN = "明华建国秀英志强丽娟文军桂兰海燕春梅玉珍德胜"


def popreg(*args: str, env: dict[str, str], capture: bool = False) -> str:
    proc = subprocess.run([str(BIN / "popreg"), *args], env=env, check=True, cwd=ROOT,
                          capture_output=capture, text=True)
    return proc.stdout if capture else ""


def server_env(database: str) -> dict[str, str]:
    return {
        **os.environ,
        "POPREG_HOME": str(HOME),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "POPREG_DEPLOYMENT": "production",
        "POPREG_SECRET_KEY": secrets.token_urlsafe(50),
        "POPREG_ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on the loopback: the production profile's HTTPS settings off.
        "POPREG_SSL_REDIRECT": "0",
        "POPREG_SECURE_COOKIES": "0",
        "POPREG_HSTS_SECONDS": "0",
    }


def setup(env: dict[str, str], database: str, skip: bool) -> None:
    if database == "test":
        sys.exit("refusing to use the database named test (the suite's)")
    HOME.mkdir(parents=True, exist_ok=True)
    if not skip:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                             autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (database,)).fetchone():
                conn.execute(f'CREATE DATABASE "{database}"')
        popreg("migrate", "--noinput", "-v", "0", env=env)
        county = HOME / "county"
        if not (county / "manifest.json").is_file():
            start = time.perf_counter()
            popreg("synth", "--seed", str(SEED), "--out", str(county), env=env)
            print(f"synth: {time.perf_counter() - start:.0f} s", flush=True)
        start = time.perf_counter()
        popreg("load", str(county), "--if-empty", env=env)
        print(f"load (skipped when already loaded): {time.perf_counter() - start:.0f} s", flush=True)
        popreg("collectstatic", "--noinput", "-v", "0", env=env)
    out = popreg("demo_accounts", "--password", PASSWORD, env=env, capture=True)
    if USER not in out:
        sys.exit(f"demo_accounts did not print the account {USER}:\n{out}")


def jurisdiction(env: dict[str, str]) -> tuple[str, list[int], list[str]]:
    """The clerk's village code, and person ids and names registered there."""
    code = (
        "import json\n"
        "from popreg.registry.models import Assignment, Person\n"
        f"a = Assignment.objects.get(user__username={USER!r})\n"
        "rows = list(Person.objects.filter(registered_unit_id=a.unit_id)"
        ".order_by('id').values_list('id', 'name')[:2000])\n"
        "print(json.dumps([a.unit_id, rows]))\n"
    )
    out = popreg("shell", "-c", code, env=env, capture=True)
    unit, rows = json.loads(out.strip().splitlines()[-1])
    return unit, [r[0] for r in rows], sorted({r[1] for r in rows if r[1]})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Client:
    """One browser: its own cookie jar (session and CSRF cookie), redirects not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect())
        self.csrf = ""

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body,
                                     headers={"Referer": self.base + path})
        try:
            with self.opener.open(req, timeout=TIMEOUT) as resp:
                return resp.status, resp.read().decode("utf-8", "replace"), ""
        except urllib.error.HTTPError as err:
            err.read()
            return err.code, "", err.headers.get("Location", "")

    def token(self, page: str) -> str:
        m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if not m:
            raise RuntimeError("no CSRF token in the page")
        return html.unescape(m.group(1))

    def login(self) -> None:
        _, page, _ = self.request("/login/")
        status, _, location = self.request("/login/", {
            "csrfmiddlewaretoken": self.token(page), "username": USER, "password": PASSWORD})
        if status != 302 or "/login/" in location:
            raise RuntimeError(f"login failed ({status} {location})")
        status, page, _ = self.request("/register/birth/")
        if status != 200:
            raise RuntimeError(f"birth form answered {status}")
        self.csrf = self.token(page)


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {k: [] for k in KINDS}
        self.errors: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.samples: list[str] = []

    def add(self, kind: str, seconds: float, error: str = "") -> None:
        with self.lock:
            self.times[kind].append(seconds)
            if error:
                self.errors[kind] += 1
                if len(self.samples) < 5:
                    self.samples.append(f"{kind}: {error}")


def one_request(c: Client, kind: str, rng: random.Random, unit: str, ids: list[int],
                names: list[str], rec: Recorder) -> None:
    start = time.perf_counter()
    error = ""
    try:
        if kind == "search":
            status, _, _ = c.request("/search/?" + urllib.parse.urlencode({"q": rng.choice(names)}))
        elif kind == "person":
            status, _, _ = c.request(f"/persons/{rng.choice(ids)}/")
        else:
            born = date.today() - timedelta(days=rng.randrange(1, 300))
            status, _, location = c.request("/register/birth/", {
                "csrfmiddlewaretoken": c.csrf, "name": "试" + "".join(rng.choices(GIVEN, k=2)),
                "sex": rng.choice("MF"), "birth_date": born.isoformat(), "registered_unit": unit,
                "household_no": "", "id_number": "", "ethnicity": "汉族", "mother": "", "father": "",
            })
            if status == 200:
                error = "the birth form was shown again (refused)"
            elif status == 302 and "/persons/" not in location:
                error = f"redirected to {location}"
        if not error and not 200 <= status < 400:
            error = f"HTTP {status}"
    except (OSError, urllib.error.URLError) as exc:  # timeouts, refused connections
        error = type(exc).__name__ + ": " + str(exc)[:80]
    rec.add(kind, time.perf_counter() - start, error)


def run_load(base: str, clients: int, seconds: float, unit: str, ids: list[int],
             names: list[str]) -> tuple[Recorder, float]:
    pool = [Client(base) for _ in range(clients)]
    with ThreadPoolExecutor(min(clients, 10)) as ex:  # logins before the clock starts
        list(ex.map(Client.login, pool))
    rec = Recorder()
    weights = [w for _, w in MIX]
    deadline = time.perf_counter() + seconds

    def loop(i: int) -> None:
        rng = random.Random(i)
        while time.perf_counter() < deadline:
            kind = rng.choices(KINDS, weights)[0]
            one_request(pool[i], kind, rng, unit, ids, names, rec)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(loop, range(clients)))
    return rec, time.perf_counter() - start


def start_server(kind: str, port: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    log = (HOME / f"{kind}.log").open("wb")
    if kind == "gunicorn":
        cmd = [str(BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}"]
    else:
        cmd = [str(BIN / "popreg"), "runserver", f"127.0.0.1:{port}", "--noreload"]
    procs = [
        subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True),
        subprocess.Popen([str(BIN / "popreg"), "worker"], env=env, cwd=ROOT, stdout=log,
                         stderr=log, start_new_session=True),
    ]
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5):
                return procs
        except (OSError, urllib.error.URLError):
            if procs[0].poll() is not None:
                break
            time.sleep(1)
    stop(procs)
    sys.exit(f"{kind} did not answer on port {port}; see {HOME / (kind + '.log')}")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:  # each started in its own process group (gunicorn's workers, the worker's child)
        if p.poll() is None:
            os.killpg(p.pid, 15)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]  # nearest rank


def summarize(rec: Recorder, elapsed: float) -> dict[str, dict[str, float]]:
    out = {}
    groups = {**rec.times, "all": [t for k in KINDS for t in rec.times[k]]}
    errors = {**rec.errors, "all": sum(rec.errors.values())}
    for kind, times in groups.items():
        out[kind] = {"count": len(times), "p50": pct(times, 0.50), "p95": pct(times, 0.95),
                     "p99": pct(times, 0.99), "errors": errors[kind],
                     "per_s": len(times) / elapsed}
    return out


def print_table(results: dict[str, dict[str, dict[str, float]]]) -> None:
    print(f"{'server':<10} {'request':<9} {'count':>6} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} "
          f"{'errors':>6} {'req/s':>6}")
    for server, rows in results.items():
        for kind, r in rows.items():
            print(f"{server:<10} {kind:<9} {r['count']:>6} {r['p50']:>7.3f} {r['p95']:>7.3f} "
                  f"{r['p99']:>7.3f} {r['errors']:>6} {r['per_s']:>6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--database", default="popreg_bench_load")
    ap.add_argument("--skip-setup", action="store_true",
                    help="the database is migrated and loaded: only reset the demo passwords")
    ap.add_argument("--json", action="store_true", help="also write bench/results/http-<time>.json")
    ap.add_argument("--gunicorn-first", action="store_true",
                    help="measure gunicorn before runserver (to see the effect of the order)")
    args = ap.parse_args()

    env = server_env(args.database)
    setup(env, args.database, args.skip_setup)
    unit, ids, names = jurisdiction(env)
    if not ids:
        sys.exit(f"no person registered in the clerk's village {unit}")
    workers = subprocess.run(
        [sys.executable, "-c", "import runpy; print(runpy.run_path('deploy/gunicorn.conf.py')['workers'])"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    print(f"{args.clients} clients x {args.seconds:.0f} s per server, as {USER} (village {unit}, "
          f"{len(ids)} of its persons sampled); mix {', '.join(f'{k} {w} %' for k, w in MIX)}")
    print("production profile over plain HTTP on 127.0.0.1: POPREG_SSL_REDIRECT=0, "
          "POPREG_SECURE_COOKIES=0, POPREG_HSTS_SECONDS=0 (no second factor asked of a clerk)")
    print(f"gunicorn: deploy/gunicorn.conf.py ({workers} sync workers); both servers with "
          f"popreg worker beside them; {os.cpu_count()} CPUs", flush=True)

    results: dict[str, dict[str, dict[str, float]]] = {}
    loads = {}
    for kind in ("gunicorn", "runserver") if args.gunicorn_first else ("runserver", "gunicorn"):
        port = free_port()
        procs = start_server(kind, port, env)
        try:
            before = os.getloadavg()[0]
            rec, elapsed = run_load(f"http://127.0.0.1:{port}", args.clients, args.seconds,
                                    unit, ids, names)
            loads[kind] = (before, os.getloadavg()[0])
        finally:
            stop(procs)
        results[kind] = summarize(rec, elapsed)
        print(f"{kind}: {elapsed:.0f} s, load average (1 min) {loads[kind][0]:.1f} before, "
              f"{loads[kind][1]:.1f} after" + (f"; first errors: {rec.samples}" if rec.samples else ""),
              flush=True)

    print_table({k: results[k] for k in ("runserver", "gunicorn")})
    base, prod = results["runserver"]["all"], results["gunicorn"]["all"]
    print(f"ratio gunicorn/runserver: p95 {prod['p95'] / base['p95']:.2f}x (lower is better), "
          f"throughput {prod['per_s'] / base['per_s']:.2f}x (higher is better)")
    if args.json:
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        path = out / f"http-{datetime.now():%Y%m%d-%H%M%S}.json"
        path.write_text(json.dumps({"clients": args.clients, "seconds": args.seconds,
                                    "load_average": loads, "results": results}, indent=1))
        print(f"written to {path}")


if __name__ == "__main__":
    main()
