"""quotas sits below campaigns: it announces (zalo_admin.hooks), it never imports campaigns."""

import ast
from pathlib import Path

import quotas

QUOTAS = Path(quotas.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_quotas_module_imports_campaigns():
    # Migrations aside: their historical foreign keys name campaigns' tables, as data.
    offenders = {
        str(path.relative_to(QUOTAS)): modules
        for path in QUOTAS.rglob("*.py")
        if "migrations" not in path.parts
        and (modules := sorted(m for m in _imported_modules(path) if m.split(".")[0] == "campaigns"))
    }
    assert offenders == {}


def test_the_services_never_import_the_read_models():
    for path in (QUOTAS / "services").glob("*.py"):
        assert "quotas.selectors" not in _imported_modules(path), path.name
