"""Every public function of a rule module (an area's services, and the committee meetings' rules) says what it
takes and what it gives: a type hint on each parameter and on the return (issue #17)."""
import ast
from pathlib import Path

PORTAL = Path(__file__).resolve().parent.parent / "portal"


def rule_modules():
    for path in sorted(PORTAL.rglob("*.py")):
        parts = path.relative_to(PORTAL).parts
        if path.name == "services.py" or "services" in parts[:-1] or parts[:2] == ("committees", "meetings"):
            yield path


def missing_hints(source: str) -> list[str]:
    missing = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            bare = [a.arg for a in arguments if a.annotation is None]
            if node.returns is None or bare:
                missing.append(f"{node.name} (line {node.lineno}): "
                               + ", ".join(bare + (["return"] if node.returns is None else [])))
    return missing


def test_every_public_service_function_has_type_hints():
    modules = list(rule_modules())
    assert len(modules) > 40  # the areas' services packages and the meetings package are found
    missing = {str(path.relative_to(PORTAL)): found for path in modules
               if (found := missing_hints(path.read_text(encoding="utf-8")))}
    assert not missing, missing


def test_the_check_finds_a_function_without_hints():
    source = "def open_ballot(actor, ballot: int) -> None: ...\ndef _private(x): ...\ndef told(x: int): ...\n"
    assert missing_hints(source) == ["open_ballot (line 1): actor", "told (line 3): return"]
