"""Every page, in Chinese and in English, as every role that may see it, shows no internal
words: no field names or other snake_case identifiers, no model or class names, no raw
audit verbs, no Python reprs (``None``, ``[-1.0, 6.0]``, ``{'a': 1}``, ``<object at``), no
``nan``/``inf``, no file paths (``docs/indicators.md``), no numbers of persons with
decimals, and on a Chinese page no English words beyond a short allow-list of codes,
units and abbreviations.

The pages are the routes of the URL configuration, walked with the authorization matrix's
table (tests/web/test_authz_matrix.py ``ROUTES``) and its county of objects of every kind
(persons, households, campaigns and their items, duplicate candidates, merges, dedup runs,
jobs of every kind, statistics, assessments, reconciliations, migrants, benefits runs,
export approvals...), plus the list pages' own links one level deep.

What counts as visible text: the text of the document outside ``<script>``, ``<style>``,
``<template>`` and ``<noscript>``, with every attribute dropped.  An element marked with
its own ``lang`` (a name's pinyin, ``lang="zh-Latn"``; the language switch's "English")
is text in another language on purpose and is skipped.  ``<code>``, ``<kbd>``
and ``<samp>`` elements are skipped too: the pages use them on purpose for what a user
types or reads as an identifier (a division code, a command such as ``popreg worker``,
a column name of an import file).  Anything else a user reads must be words.  The data of
a chart (``<script type="application/json">``) is read too: the strings its legends, axes
and titles draw (keys ``label``, ``labels``, ``title``, ``names``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from popreg.registry.models import Role
from popreg.registry.policy import COUNTY_WIDE, ROLE_PERMISSIONS

from ..conftest import COUNTY
from .test_authz_matrix import ROLES, ROUTES, _cases, world  # noqa: F401  (world: the fixture)

pytestmark = pytest.mark.django_db

#: Elements whose content is not read as words (see the module's docstring).
SKIPPED = {"script", "style", "template", "noscript", "code", "kbd", "samp"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip: list[str] = []
        self.parts: list[str] = []
        self.json: list[str] = []  # the data of the charts (json_script)
        self.in_json = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in VOID:
            return
        if tag == "script" and ("type", "application/json") in attrs:
            self.in_json = True
        if tag in SKIPPED or any(k == "lang" for k, _v in attrs) and tag != "html":
            self.skip.append(tag)
        elif tag in ("br", "p", "div", "td", "th", "li", "tr", "h1", "h2", "h3", "option", "label", "dt", "dd"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_json = False
        if self.skip and self.skip[-1] == tag:
            self.skip.pop()
        elif tag in ("td", "th", "li", "p", "div", "option", "dt", "dd"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_json:
            self.json.append(data)
        if not self.skip:
            self.parts.append(data)


#: Keys of a chart's data whose strings are drawn on the canvas (legends, axis labels, titles).
CHART_TEXT_KEYS = {"label", "labels", "title", "names"}


def _chart_strings(value, drawn: bool = False):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _chart_strings(v, drawn or k in CHART_TEXT_KEYS)
    elif isinstance(value, list):
        for v in value:
            yield from _chart_strings(v, drawn)
    elif isinstance(value, str) and drawn:
        yield value


def visible_text(page: str) -> str:
    """The page's visible text, then one line per string its charts draw."""
    import json

    parser = _Text()
    parser.feed(page)
    parser.close()
    drawn: list[str] = []
    for data in parser.json:
        try:
            drawn.extend(_chart_strings(json.loads(data)))
        except ValueError:
            continue
    return "".join(parser.parts) + "\n" + "\n".join(drawn)


#: Latin words a Chinese page may show: codes, units, abbreviations, names of file formats
#: and of the product (compared in lower case).
ALLOWED_LATIN = {
    "id", "csv", "excel", "xlsx", "pdf", "json", "api", "openapi", "url", "http", "https",
    "tfr", "srb", "cbr", "cdr", "rni", "gfr", "asfr", "dse", "totp", "otp", "gb", "gbk", "utf",
    "popreg", "english", "ok", "log", "kb", "mb", "a4", "qr", "ed25519", "jws", "vs", "km", "kg", "cm", "no",
    # 性别 shown as a one-letter code in a few compact tables, months and hours
    "m", "f", "h", "min", "s",
    # names of methods (the Wilson interval, Brass's relational model of mortality)
    "wilson", "brass",
    # the pinyin example of the search hint (张伟 → zhangwei)
    "zhangwei",
}

#: A field name or other identifier: two or more lower-case words joined by underscores.
SNAKE = re.compile(r"(?<![\w@.])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@])")
#: A class name: two or more capitalised words run together (DuplicateCandidate).
CAMEL = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+\b")
REPRS = [
    (re.compile(r"\[\s*-?\d+(?:\.\d+)?\s*,\s*-?\d+(?:\.\d+)?\s*\]"), "a Python list"),
    (re.compile(r"\{\s*'[^']*'\s*:"), "a Python dict"),
    # "None" alone in a cell or an item is the English word of an empty list
    (re.compile(r"(?<![\w-])(?:True|False)(?![\w-])|(?<=\S)[ \t]*\bNone\b"),
     "None/True/False"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d"), "an ISO timestamp"),
    (re.compile(r"object at 0x|<\w+(?:\.\w+)+ object"), "an object repr"),
    (re.compile(r"(?<![A-Za-z])(?:nan|NaN|-?inf|Infinity)(?![A-Za-z])"), "NaN or infinity"),
    (re.compile(r"\bdocs/[\w./-]+|\b[\w-]+(?:/[\w.-]+)*\.(?:md|py|parquet|html|txt)\b"), "a file path"),
    (re.compile(r"(?:^|[\s(（])/(?:home|tmp|var|work|usr|srv|opt)/[\w./-]*"), "a file path"),
    (re.compile(r"Traceback|Exception\(|Error\('"), "a Python error"),
    (re.compile(r"\d[\d,]*\.\d+\s*(?:人|persons?\b)"), "a number of persons with decimals"),
]


def offenders(text: str, *, chinese: bool, own_words: set[str]) -> list[str]:
    """What is wrong with a page's visible text: a list of 'what: excerpt'."""
    found: list[str] = []
    for word in sorted(own_words, key=len, reverse=True):  # user names are not words
        text = re.sub(rf"(?<![\w@.]){re.escape(word)}(?![\w@])", " ", text)

    def excerpt(m: re.Match[str]) -> str:
        return " ".join(text[max(0, m.start() - 25):m.end() + 25].split())

    for m in SNAKE.finditer(text):
        if m.group(0) not in own_words:
            found.append(f"identifier {m.group(0)!r}: …{excerpt(m)}…")
    for m in CAMEL.finditer(text):
        if m.group(0) not in own_words:
            found.append(f"class name {m.group(0)!r}: …{excerpt(m)}…")
    for pattern, what in REPRS:
        for m in pattern.finditer(text):
            found.append(f"{what} {m.group(0)!r}: …{excerpt(m)}…")
    if chinese:
        for m in re.finditer(r"[A-Za-z][A-Za-z0-9'-]*[A-Za-z0-9]|[A-Za-z]", text):
            word = m.group(0)
            if (any(ch.isdigit() for ch in word) or re.fullmatch(r"[A-Z]+(?:-[A-Z]+)+", word)
                    or (m.start() > 0 and text[m.start() - 1].isdigit())):
                continue  # a code (A4, a record number such as DN-A, the X of an ID number)
            if re.match(r"\.(?:csv|xlsx|xls|pdf)\b", text[m.end():m.end() + 5]):
                continue  # the name of a file the user uploaded
            if word.lower() not in ALLOWED_LATIN and word not in own_words:
                found.append(f"English word {word!r} on a Chinese page: …{excerpt(m)}…")
    return found


#: Routes whose GET is not a page (downloads, JSON for a script) or that log out.
def _is_page(response) -> bool:
    ctype = response.get("Content-Type", "")
    return response.status_code == 200 and ctype.startswith("text/html") and not getattr(response, "streaming", False)


def _may_see(role: str, unit: str, perm) -> bool:
    perms = ROLE_PERMISSIONS[role]
    return perm is None or (perm in perms and (perm not in COUNTY_WIDE or unit == COUNTY))


LINK = re.compile(r'href="(/[^"#?]*(?:\?[^"#]*)?)"')


def walk(client, accounts: dict, start_urls, own_words: set[str], *, per_shape: int | None = None
         ) -> tuple[dict[str, set[str]], int]:
    """Render, as each account, its start pages and the links of those pages (one level
    deep), each in Chinese and in English; the problems found per page and how many pages
    were read.  ``accounts``: name -> user; ``start_urls(name)``: its first pages.
    ``per_shape``: at most this many links of one shape (``/persons/N/``) per account."""
    client.raise_request_exception = False  # a page that fails is one more problem, listed
    problems: dict[str, set[str]] = {}
    seen_pages = 0
    for name, user in accounts.items():
        client.force_login(user)
        queue = list(start_urls(name))
        depth = {u: 0 for u in queue}
        shapes: dict[str, int] = {}
        done: set[str] = set()
        while queue:
            url = queue.pop(0)
            if url in done:
                continue
            done.add(url)
            for lang in ("zh-hans", "en"):
                if lang == "en":
                    client.cookies["django_language"] = "en"
                else:
                    client.cookies.pop("django_language", None)
                r = client.get(url)
                if r.status_code == 302 and r["Location"].startswith("/"):
                    # A form that cannot open goes back with a message: read that page now, in
                    # the same language (the message is shown once, on the next page).
                    r = client.get(r["Location"])
                if r.status_code >= 500:
                    problems.setdefault(f"{lang} {urlsplit(url).path}", set()).add(f"server error {r.status_code}")
                if not _is_page(r):
                    continue
                seen_pages += 1
                page = r.content.decode()
                for p in offenders(visible_text(page), chinese=lang == "zh-hans", own_words=own_words):
                    problems.setdefault(f"{lang} {urlsplit(url).path}", set()).add(p)
                if lang == "zh-hans" and depth[url] == 0:
                    for link in LINK.findall(page):
                        link = link.replace("&amp;", "&")
                        path = urlsplit(link).path
                        if (link in depth or path.startswith(("/static/", "/logout", "/i18n", "/admin"))
                                or path.endswith((".csv", ".xlsx", ".pdf", ".json")) or "page=" in link):
                            continue
                        shape = re.sub(r"\d+", "N", path)
                        if per_shape is not None and shapes.get(shape, 0) >= per_shape:
                            continue
                        shapes[shape] = shapes.get(shape, 0) + 1
                        depth[link] = 1
                        queue.append(link)
    client.cookies.pop("django_language", None)
    return problems, seen_pages


def _report(problems: dict[str, set[str]]) -> list[str]:
    return [f"{where}: {p}" for where, ps in sorted(problems.items()) for p in sorted(ps)]


def test_every_page_in_both_languages_shows_no_internal_words(client, world, users, settings, tmp_path):  # noqa: F811
    from django.contrib.auth import get_user_model

    from popreg.registry.models import Assignment

    settings.POPREG_HOME = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    # The demo's benefits officer sees the benefits pages the matrix's roles do not.
    fuli = get_user_model().objects.create_user(username="fuli", password="x-unused-1")
    Assignment.objects.create(user=fuli, role=Role.BENEFITS_OFFICER, unit_id=COUNTY)
    roles = {**ROLES, "fuli": (Role.BENEFITS_OFFICER, COUNTY)}
    accounts = {name: ({**users, "fuli": fuli})[name] for name in roles}
    # Words a page may show that the patterns would take for identifiers: user names.
    own_words = set(get_user_model().objects.values_list("username", flat=True))
    own_words |= {"test", "script"}  # what the fixtures typed: a reason, a rule version, a token name

    def start_urls(name: str) -> list[str]:
        role, unit = roles[name]
        urls: list[str] = []
        for route in sorted(ROUTES):
            entry = ROUTES[route]
            if " " in route or "GET" not in entry.methods or not _may_see(role, unit, entry.perm):
                continue
            urls += [url for label, url in _cases(route, entry, world, name) if label in ("own", "-")]
        return urls

    problems, seen_pages = walk(client, accounts, start_urls, own_words)
    assert seen_pages > 150
    lines = _report(problems)
    assert not lines, f"{len(lines)} problems on {len(problems)} pages:\n" + "\n".join(lines)


@pytest.fixture(scope="module")
def synthetic_county(tmp_path_factory):
    from popreg.synth.generator import generate

    out = tmp_path_factory.mktemp("language-county")
    generate(out, seed=11, persons=1500, progress=None)
    return out


def test_pages_of_a_loaded_synthetic_county_in_both_languages(client, synthetic_county, settings, tmp_path):
    """The same reading over a generated county loaded into the registry with its statistics
    refreshed (real numbers: rates, pyramids, ratios, empty units), as the demo's roles:
    every page without an object in its path, the statistics and person-list pages of the
    role's own unit, and the links of those pages (a few of each shape)."""
    from django.contrib.auth import get_user_model

    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot
    from popreg.registry.models import AdminUnit, Assignment
    from popreg.stats.dashboard import clear_cache
    from popreg.stats.refresh import do_refresh_statistics

    settings.POPREG_HOME = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    actor = system_actor("test")
    load_snapshot(synthetic_county, actor)
    clear_cache()
    do_refresh_statistics(actor)
    county = AdminUnit.objects.get(level="county")
    village = AdminUnit.objects.filter(level="village").order_by("code").first()
    spec = {"admin": (Role.COUNTY_ADMIN, county.code), "cunyuan": (Role.VILLAGE_CLERK, village.code),
            "tongji": (Role.COUNTY_STATISTICIAN, county.code), "shenji": (Role.AUDITOR, county.code)}
    accounts = {}
    for name, (role, code) in spec.items():
        accounts[name] = get_user_model().objects.create_user(username=name, password="x-unused-1")
        Assignment.objects.create(user=accounts[name], role=role, unit_id=code)

    def start_urls(name: str) -> list[str]:
        role, code = spec[name]
        urls = []
        for route in sorted(ROUTES):
            entry = ROUTES[route]
            if " " in route or "GET" not in entry.methods or not _may_see(role, code, entry.perm):
                continue
            if entry.obj is None:
                urls.append(_cases(route, entry, {}, name).__next__()[1])
            elif entry.obj == "unit" and not route.endswith((".pdf", ".xlsx", ".csv")):
                urls.append("/" + re.sub(r"<str:code>", code, route))
        return urls

    # user names, and the name of the system actor that loaded the county
    problems, seen_pages = walk(client, accounts, start_urls, set(spec) | {"test"}, per_shape=3)
    assert seen_pages > 100
    lines = _report(problems)
    assert not lines, f"{len(lines)} problems on {len(problems)} pages:\n" + "\n".join(lines)


def test_every_model_has_an_audit_object_label():
    """The audit page names a record's object with popreg.registry.audit_labels, never its
    class name: every model of the platform (and Django's user) has a label, in Chinese
    and in English."""
    from django.apps import apps
    from django.utils import translation

    from popreg.registry.audit_labels import OBJECT_LABELS, object_label

    names = {m.__name__ for m in apps.get_models() if m.__module__.startswith("popreg.")} | {"User"}
    assert not names - OBJECT_LABELS.keys(), f"models without an audit label: {sorted(names - OBJECT_LABELS.keys())}"
    with translation.override("zh-hans"):
        untranslated = sorted(n for n in names if not re.search(r"[\u4e00-\u9fff]", object_label(n)))
        assert object_label("DuplicateCandidate") == "疑似重复记录对"
    assert not untranslated, f"audit labels without Chinese: {untranslated}"
    with translation.override("en"):
        assert object_label("DuplicateCandidate") == "possible duplicate pair"
        assert object_label("NoSuchModel") == "record"
