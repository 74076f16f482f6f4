"""Dependencies point one way (issue #17): every module imports on its own, the import graph has no circle,
and each area imports only the areas below it.

The graph is read from the source (ast), imports inside functions included: a lazy import is a dependency
too, it only fails later. An edge goes to the most specific module named (`from portal.issues import
services` is an edge to portal.issues.services). Importing a submodule also runs its package's __init__, so
a package holds only its blueprint: its pages are imported by create_app (portal/__init__.py), at the top.

Layers, bottom up: core modules (CORE: they import no area) < base areas (audit, auth, places, committees,
residents) < content areas (issues, proposals, moderation, votes, meetings, notices, actions, open311) <
readers (dashboard, notifications, calendar, printing, home) < entry points (cli, demo, worker, wsgi and
the app factory). BUILDS_ON says which areas each one builds on directly; an area may import those and
everything they build on. Where a lower area must tell a higher one, it sends a signal from portal.events
(a ballot decided → the notice starts) instead of importing it."""
import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "portal"

CORE = {"backup", "charts", "clock", "config", "delivery", "due", "errors", "events", "extensions", "formatting",
        "forms", "formviews", "i18n", "markup", "observability", "outbox", "pgcursor", "previews", "qr",
        "sharing", "versions", "web", "words"}

CONTENT = {"actions", "funds", "meetings", "moderation", "notices", "open311"}  # with what they build on: every area
READERS = {"calendar", "dashboard", "home", "insight", "notifications", "printing", "sharepages", "webapp"}
BUILDS_ON = {
    "audit": set(),
    "auth": {"audit"},
    "places": {"auth"},
    "committees": {"places"},
    "residents": {"committees"},
    "demo_people": {"committees"},  # the demo's accounts and organizations, shared by the areas' demos
    "issues": {"residents"},
    "proposals": {"issues"},
    "moderation": {"proposals"},
    "votes": {"proposals"},
    "meetings": {"votes"},  # agendas of proposals and issues; decisions open ballots
    "notices": {"votes"},
    "actions": {"proposals"},
    "open311": {"issues"},
    "funds": {"actions", "votes", "notices"},  # money for actions, decisions, owners' ballots; rounds start notices
    "dashboard": CONTENT,
    "insight": {"dashboard"},  # forecasts read the issues and the dashboard's months; rises become actions
    "notifications": CONTENT,  # delivery, the centre, reminders: read every area; none imports it
    "calendar": CONTENT,
    "printing": CONTENT,
    "sharepages": CONTENT,  # short links and preview images of every kind of item
    "home": CONTENT,
    "webapp": {"residents"},  # the installable app: its start address is the person's community
    "privacy": CONTENT,  # a person's copy and deletion read every area (e-mail settings through events)
    "cli": READERS | {"demo", "privacy"},
    "demo": READERS | {"demo_people", "privacy"},
    "worker": {"portal"},  # the RQ job builds the app
    "portal": READERS | {"cli", "privacy"},
    "wsgi": {"portal"},
}
# Modules that count as an area of their own, by name prefix.
SUBAREAS = {"portal.committees.meetings": "meetings", "portal.committees.meetings_demo": "meetings"}
# Pages and their forms (views, the API) are the web entry: they may use any area below the readers.
WEB_ENTRY = ("views", "api_views", "email_views", "forms")
# Edges that point up and stay, each with its reason.
EXCEPTIONS = {
    # Roles come from memberships of organizations and communities, and the permission rules (one module of
    # can_* rules for every area, read by templates too) look at the objects of the areas above.
    "portal.auth.roles": {"portal.committees.models", "portal.places.models"},
    "portal.auth.permissions": {"portal.committees.models", "portal.places.models", "portal.votes.models",
                                "portal.actions.models"},
    # The proposals demo shows comments hidden by flags.
    "portal.proposals.demo": {"portal.moderation.models"},
}


def modules(package_dir: Path = PACKAGE) -> dict[str, Path]:
    """Module name → file, for every module of the package."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(name: str, known) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(name: str, path: Path, known) -> list[tuple[str, int]]:
    """(module imported, line) for each import of a package module in `path`, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    root = name.split(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target == root or target.startswith(root + "."):
                resolved = _resolve(target, known)
                if resolved and resolved != name and (resolved, node.lineno) not in found:
                    found.append((resolved, node.lineno))
    return found


def import_graph(found: dict[str, Path]) -> dict[str, list[tuple[str, int]]]:
    return {name: imports(name, path, found) for name, path in found.items()}


def cycles(graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted({t for t, _ in graph.get(start, ())})))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            advanced = False
            for target in targets:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted({t for t, _ in graph.get(target, ())}))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def area_of(module: str) -> str:
    for prefix, area in SUBAREAS.items():
        if module == prefix or module.startswith(prefix + "."):
            return area
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def below(area: str) -> set[str]:
    """Every area `area` builds on, directly or through others."""
    seen, todo = set(), list(BUILDS_ON.get(area, ()))
    while todo:
        lower = todo.pop()
        if lower not in seen:
            seen.add(lower)
            todo.extend(BUILDS_ON.get(lower, ()))
    return seen


def _is_area_demo(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 2 and (parts[-1] == "demo" or parts[-1].endswith("_demo"))


def violations(graph, paths: dict[str, Path], root: Path = ROOT) -> list[str]:
    """One line per import that the layering does not allow: file:line, the importer and the target."""
    below_readers = set().union(*(below(reader) for reader in READERS)) - READERS
    problems = []
    for module in sorted(graph):
        area = area_of(module)
        for target, line in graph[module]:
            target_area = area_of(target)
            if target_area == area or target_area in CORE or target in EXCEPTIONS.get(module, ()):
                continue
            if _is_area_demo(module) and (_is_area_demo(target) or target_area == "demo"):
                why = "an area's demo imports no other demo (portal.demo passes data in)"
            elif _is_area_demo(module) and target_area == "demo_people":
                continue
            elif area in CORE:
                why = "core modules import no area"
            elif target_area in below(area) or (
                    module.rpartition(".")[2] in WEB_ENTRY and target_area in below_readers):
                continue
            else:
                why = f"{area} does not build on {target_area}"
            where = paths[module].relative_to(root)
            problems.append(f"{where}:{line}: {module} imports {target} ({why})")
    return problems


# Run in a fresh interpreter: the libraries the package uses are imported once, then each module is imported
# in a child forked from that state (one per CPU at a time), so it starts with none of the package loaded (and
# one that only works after another was imported first fails), without paying for Flask and SQLAlchemy each
# time.
IMPORT_EACH = """
import importlib, os, sys, traceback
libraries, reports, names = sys.argv[1].split(","), sys.argv[2], sys.argv[3:]
for library in libraries:
    try:
        importlib.import_module(library)
    except Exception:
        pass
running, failed = {}, []
for name in names + [None] * len(names):
    while running and (name is None or len(running) >= (os.cpu_count() or 1)):
        pid, status = os.wait()
        finished = running.pop(pid)
        if status != 0:
            with open(os.path.join(reports, finished), encoding="utf-8") as report:
                failed.append(finished + ": " + report.read())
    if name is None:
        continue
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            with open(os.path.join(reports, name), "w", encoding="utf-8") as report:
                report.write(traceback.format_exc())
            os._exit(1)
        os._exit(0)
    running[pid] = name
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _libraries(found) -> set[str]:
    names = set()
    for path in found.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module)
    return {name for name in names if name.split(".")[0] != "portal"}


def test_every_module_imports_on_its_own(tmp_path):
    found = modules()
    env = {**os.environ, "PORTAL_INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "layering",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'layering.db'}"}
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-c", IMPORT_EACH, ",".join(sorted(_libraries(found))), str(tmp_path),
                             *sorted(found)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_import_graph_has_no_circle():
    assert cycles(import_graph(modules())) == []


def test_each_area_imports_only_what_it_builds_on():
    found = modules()
    problems = violations(import_graph(found), found)
    assert not problems, "imports that point up:\n" + "\n".join(problems)


def test_only_delivery_and_the_entry_points_import_notifications():
    found = modules()
    outside = {module for module, targets in import_graph(found).items()
               if area_of(module) != "notifications" and any(area_of(t) == "notifications" for t, _ in targets)}
    assert outside <= {"portal", "portal.cli", "portal.demo", "portal.worker"}


def test_the_layers_point_one_way():
    assert all(area not in below(area) for area in BUILDS_ON)
    assert not CORE & set(BUILDS_ON)


def _package(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return modules(root / "portal")


def test_the_checker_reports_an_upward_import(tmp_path):
    found = _package(tmp_path, {
        "portal/__init__.py": "",
        "portal/extensions.py": "",
        "portal/dashboard/__init__.py": "",
        "portal/issues/__init__.py": "",
        "portal/issues/services.py": "from portal.extensions import db\n\n\ndef f():\n    import portal.dashboard\n",
        "portal/issues/demo.py": "from portal.proposals.demo import PEOPLE\n",
        "portal/proposals/__init__.py": "",
        "portal/proposals/demo.py": "PEOPLE = []\n",
        "portal/web.py": "from portal.issues import services\n",
    })
    problems = violations(import_graph(found), found, root=tmp_path)
    assert problems == [
        "portal/issues/demo.py:1: portal.issues.demo imports portal.proposals.demo (an area's demo imports no "
        "other demo (portal.demo passes data in))",
        "portal/issues/services.py:5: portal.issues.services imports portal.dashboard (issues does not build on "
        "dashboard)",
        "portal/web.py:1: portal.web imports portal.issues.services (core modules import no area)",
    ]


def test_the_checker_finds_a_circle_through_a_lazy_import(tmp_path):
    found = _package(tmp_path, {
        "portal/__init__.py": "",
        "portal/votes/__init__.py": "",
        "portal/votes/services.py": "def close():\n    from portal.notices import services\n",
        "portal/notices/__init__.py": "",
        "portal/notices/services.py": "from portal.votes.services import close\n",
    })
    assert cycles(import_graph(found)) == [["portal.notices.services", "portal.votes.services"]]
