"""One write path: single updates and the bulk path make the same commits, and the
core is a layer (no import cycle, no upward import, no generic top-level module)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from gitstore import Store
from gitstore.importers.base import ImportSummary, prepare_update, run_import
from gitstore.importers.email import EmailImporter
from gitstore.importers.slack import make_importer as slack_importer
from gitstore.importers.twitter_care import IMPORTER as TWITTER
from gitstore.tickets.update import TicketDraft

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
ACTOR = "importer"

SETS = [
    ("twitter_care", lambda: TWITTER, DATA / "twitter_care_sample.json"),
    ("slack", lambda: slack_importer(("*=SLACK-{channel}",)), DATA / "slack_sample"),
    ("mbox", lambda: EmailImporter(), DATA / "httpd_users_sample.mbox"),
]


def single_updates(store: Store, importer, source: Path) -> int:
    """Write every event of ``source`` with the public single-update API, one by one."""
    summary = ImportSummary()
    events = sorted(importer.events(source, summary), key=lambda e: e.when)
    written = 0
    for event in events:
        ids = TicketDraft.from_files(store.read(event.t_no)).all_ids() if store.exists(event.t_no) else None
        update = prepare_update(store, event, ids)
        if update is None:
            continue
        actor = event.actor or ACTOR
        summary_line = event.summary or f"Import update of ticket {event.t_no}"
        if ids is None:
            store.create_ticket(event.t_no, **event.create, update_data=update, timestamp=event.when,
                                actor=actor, summary=summary_line)
        else:
            store.update(event.t_no, update, timestamp=event.when, actor=actor, summary=summary_line)
        written += 1
    return written


def first_parent_commits(repo: pygit2.Repository) -> list[pygit2.Commit]:
    commits = []
    commit = repo.head.peel(pygit2.Commit)
    while commit.parents:
        commits.append(commit)
        commit = commit.parents[0]
    return commits[::-1]


@pytest.mark.parametrize("name, importer, source", SETS, ids=[s[0] for s in SETS])
def test_single_updates_and_the_bulk_path_make_identical_commits(tmp_path, name, importer, source):
    one = Store.init(tmp_path / "single", fsync=False)
    written = single_updates(one, importer(), source)
    one.close()
    bulk = Store.init(tmp_path / "bulk", fsync=False)
    summary = run_import(bulk, importer(), source, actor=ACTOR, progress=False)
    bulk.close()
    assert written > 10 and summary.commits == written
    ours, theirs = first_parent_commits(one.repo), first_parent_commits(bulk.repo)
    assert len(ours) == len(theirs) == written
    for a, b in zip(ours, theirs):
        assert a.message == b.message
        assert a.tree_id == b.tree_id, a.message
        assert (a.author.name, a.author.time) == (b.author.name, b.author.time)


def test_appending_to_a_large_ticket_writes_what_a_fresh_read_writes(store):
    """The write path's cached item texts give the bytes a whole re-serialisation gives."""
    from gitstore.tickets import layout

    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="a")
    with store.batch():
        for n in range(30):
            store.add_message("1001", "E" if n % 3 else "I", sender="customer" if n % 3 else "technical_member",
                              sender_id="x", content=f"message {n} ünïcode \"q\"", actor="a")
        store.set_state("1001", {"priority": "HIGH", "assigned_member": "bob"}, actor="a")
    head = store.head()
    files = store.read("1001")
    for kind, path in layout.ticket_paths("1001").items():
        assert store.repo[head.tree[path].id].data == layout.dumps(files.get(kind))


# ---------------------------------------------------------------------------- layering
LAYERS = {
    "gitstore.errors": 0, "gitstore.timeutil": 0,
    "gitstore.objects": 1, "gitstore.config": 1,
    "gitstore.tickets": 2, "gitstore.crypt": 2,
    "gitstore.history": 3, "gitstore.viewer": 3,
    "gitstore.writer": 4,
    "gitstore.store": 5,
    "gitstore.verify": 6, "gitstore.handedit": 6, "gitstore.maintenance": 6,
    "gitstore.signers": 6, "gitstore.listing": 6, "gitstore.configkeys": 6, "gitstore.storeshape": 6,
    "gitstore.cryptstore": 6, "gitstore": 7,
    "gitstore.agents": 8, "gitstore.importers": 8,
}
"""Module prefix → layer: a module may import only its own layer's modules or lower ones."""

FOLDERS = {
    "gitstore": "gitstore", "index": "gitstore_index", "sync": "gitstore_sync", "serve": "gitstore_serve", "cli": "gitstore_cli",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts[0] = FOLDERS[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def runtime_imports(path: Path) -> set[str]:
    """Modules of the project imported when ``path`` runs (``if TYPE_CHECKING:`` left out)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names}
    return {m for m in found if m.split(".")[0] in set(FOLDERS.values())}


def project_modules() -> dict[str, Path]:
    out = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            out[module_name(path)] = path
    return out


def layer_of(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return best[1] if best else None


def test_gitstore_has_no_import_cycle_and_no_upward_import():
    modules = project_modules()
    graph = {name: {m for m in runtime_imports(path) if m in modules} for name, path in modules.items()}
    upward = []
    for name, targets in graph.items():
        if not name.startswith("gitstore.") and name != "gitstore":
            continue
        for target in targets:
            if target.split(".")[0] != "gitstore":
                upward.append(f"{name} imports {target} (the core imports no index/sync/cli)")
            elif layer_of(target) > layer_of(name) and not name.startswith(target + "."):
                upward.append(f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})")
    assert upward == []
    # a cycle among gitstore's modules (a package's __init__ re-exporting its own modules is not one)
    core = {n: {t for t in ts if t.startswith("gitstore") and not n.startswith(t + ".")} for n, ts in graph.items()
            if n.startswith("gitstore") and not n.startswith("gitstore_")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(core.get(node, ())):
            if nxt == node or node.startswith(nxt + ".") or nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif state.get(nxt) is None:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(core):
        if state.get(name) is None:
            visit(name, [name])
    assert cycles == []


def test_the_other_layers_import_downward_only():
    order = {"gitstore": 0, "gitstore_index": 1, "gitstore_sync": 1, "gitstore_serve": 2, "gitstore_cli": 3}
    modules = project_modules()
    wrong = []
    for name, path in modules.items():
        top = name.split(".")[0]
        for target in runtime_imports(path):
            other = target.split(".")[0]
            if order[other] > order[top] or (top != other and order[other] == order[top]):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_import_gitstore_loads_no_feature_and_installs_no_generic_name(tmp_path):
    code = (
        "import sys, importlib.util\n"
        "import gitstore\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('gitstore_index', 'gitstore_sync', 'gitstore_serve', 'gitstore_cli')"
        " or m.startswith(('gitstore.agents', 'gitstore.importers'))]\n"
        "generic = [n for n in ('cli', 'sync', 'index') if importlib.util.find_spec(n) is not None]\n"
        "print(loaded, generic)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[] []"


LIBRARY_INTERNALS = {
    "gitstore_index.fastpath": "whoosh",
    "gitstore.objects.worktree": "pygit2",
}
"""Modules allowed to reach a library's private names, each behind a feature check, a
tested fallback and a pinned version range (tests/test_guarded_internals.py)."""


def private_names_defined(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, assignments, ``self._x``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.attr)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
    return {name for name in found if name.startswith("_")}


def test_no_private_name_crosses_a_module_boundary():
    """``from x import _name``, and ``obj._name`` where no ``_name`` is defined in the
    module using it, are refused (library internals only where listed above)."""
    offenders = []
    for name, path in project_modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = private_names_defined(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(a.name.startswith("_") and not a.name.startswith("__")
                                                        for a in node.names):
                if not (name in LIBRARY_INTERNALS and (node.module or "").startswith(LIBRARY_INTERNALS[name])):
                    offenders.append(f"{name}: from {node.module} import {[a.name for a in node.names]}")
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and node.attr not in own and name not in LIBRARY_INTERNALS):
                offenders.append(f"{name}:{node.lineno}: .{node.attr}")
    assert offenders == []


# ---------------------------------------------------------------------------- whole-file writes
def test_whole_file_writes_create_tickets_and_obey_roles(store):
    """Hand edits and rollbacks go through the same rules as updates: a customer-facing
    actor may change T and E by a whole-file write, never I."""
    from gitstore import AccessDenied
    from gitstore.agents.roles import set_role
    from gitstore.tickets.files import new_ticket
    from gitstore.timeutil import utc_now

    created = store.replace_files("2001", new_ticket("2001", client_name="A", company_name="B", when=utc_now()),
                                  actor="desk", summary="Hand-made ticket", allow_missing=True)
    assert created.created and created.files == ["E_2001.json", "I_2001.json", "T_2001.json"]
    set_role(store, "bob", "customer_facing", actor="admin")
    files = store.read("2001")
    store.replace_files("2001", files.with_file("T", files.workflow.model_copy(update={"priority": "HIGH"})),
                        actor="bob", summary="Raise priority")
    assert store.read("2001").workflow.priority == "HIGH"
    before = store.head().id
    files = store.read("2001")
    internal = files.internal.model_copy(update={"platforms": ["slack"]})
    with pytest.raises(AccessDenied, match="internal"):
        store.replace_files("2001", files.with_file("I", internal), actor="bob", summary="Edit I")
    assert store.head().id == before


def test_the_package_exports_every_error_and_every_export_resolves():
    import inspect

    import gitstore
    import gitstore.errors

    errors = {n for n, c in vars(gitstore.errors).items()
              if inspect.isclass(c) and issubclass(c, Exception) and c.__module__ == "gitstore.errors"}
    assert errors <= set(gitstore.__all__)
    for name in gitstore.__all__:
        assert getattr(gitstore, name) is not None, name
    for name in errors:
        assert issubclass(getattr(gitstore, name), gitstore.GitStoreError), name
