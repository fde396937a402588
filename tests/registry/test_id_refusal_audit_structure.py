"""A refused ID check outside the jurisdiction is audited (``check_id_elsewhere``) after
the refusing transaction rolls back.  A function that calls those actions inside its own
atomic block rolls that record back again, unless it carries ``@audit_id_refusals`` too:
this scan fails for any such function without it, so a new caller cannot forget."""

from __future__ import annotations

import ast
from pathlib import Path

import popreg

SRC = Path(popreg.__file__).parent


def _decorator_names(fn: ast.FunctionDef) -> list[str]:
    return [ast.unparse(d) for d in fn.decorator_list]


def _protected_actions() -> set[str]:
    """The registry actions that raise and audit the refusal themselves."""
    tree = ast.parse((SRC / "registry" / "actions" / "persons.py").read_text("utf-8"))
    return {
        n.name for n in tree.body
        if isinstance(n, ast.FunctionDef) and "audit_id_refusals" in _decorator_names(n)
    }  # fmt: skip


def _called_names(fn: ast.FunctionDef) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            out.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return out


def _is_atomic(fn: ast.FunctionDef) -> bool:
    if any("atomic" in d for d in _decorator_names(fn)):
        return True
    return any(
        isinstance(node, ast.With) and any("atomic" in ast.unparse(i.context_expr) for i in node.items)
        for node in ast.walk(fn)
    )


def test_protected_actions_are_found():
    assert {"do_register_birth", "do_move_in", "do_correct_person"} <= _protected_actions()


def test_every_atomic_caller_of_an_id_checking_action_rewrites_its_audit():
    protected = _protected_actions()
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        if path.is_relative_to(SRC / "registry" / "actions") or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text("utf-8"))
        funcs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        # Functions of this module that reach a protected action, directly or through
        # other functions of the same module.
        reaching = {name for name, fn in funcs.items() if _called_names(fn) & protected}
        grew = True
        while grew:
            more = {name for name, fn in funcs.items() if _called_names(fn) & reaching} - reaching
            reaching |= more
            grew = bool(more)
        for name in sorted(reaching):
            fn = funcs[name]
            decorators = _decorator_names(fn)
            if _is_atomic(fn) and not any("audit_id_refusals" in d for d in decorators):
                missing.append(f"{path.relative_to(SRC)}:{fn.lineno} {name}")
            if "audit_id_refusals" in decorators and any("atomic" in d for d in decorators):
                order = [d for d in decorators if "audit_id_refusals" in d or "atomic" in d]
                assert "audit_id_refusals" in order[0], f"{name}: put @audit_id_refusals above @transaction.atomic"
    assert not missing, "atomic callers of ID-checking actions without @audit_id_refusals:\n" + "\n".join(missing)
