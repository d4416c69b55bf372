"""RQ entry points of audiences: thin, take ids, safe to run twice."""

from audiences import imports


def run_contact_import(import_id: int) -> str:
    """Run or resume one CSV import (`audiences.imports.run_import`)."""
    return imports.run_import(import_id)
