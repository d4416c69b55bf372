"""Every module of the product sits in a layer of the import contract, so a new module cannot slip
past `lint-imports` by being unlisted (modules outside every layer are not checked)."""

import configparser
import re

from django.conf import settings

PRODUCT = (
    "zalo_admin",
    "compliance",
    "oas",
    "providers",
    "quotas",
    "campaigns",
    "audiences",
    "twofactor",
    "alerts",
    "teams",
)


def _layered_modules() -> set[str]:
    config = configparser.ConfigParser()
    config.read(settings.BASE_DIR / ".importlinter")
    layers = config["importlinter:contract:layers"]["layers"].strip().splitlines()
    return {name.strip("() ") for line in layers for name in re.split(r"[|:]", line) if name.strip()}


def _product_modules() -> list[str]:
    modules = []
    for package in PRODUCT:
        for path in (settings.BASE_DIR / package).rglob("*.py"):
            parts = path.relative_to(settings.BASE_DIR).with_suffix("").parts
            if "migrations" in parts or parts[-1] == "__init__":
                continue
            modules.append(".".join(parts))
    return sorted(modules)


def test_every_product_module_is_in_a_layer():
    layered = _layered_modules()

    def covered(module: str) -> bool:
        parts = module.split(".")
        return any(".".join(parts[:size]) in layered for size in range(1, len(parts) + 1))

    assert len(_product_modules()) > 50
    assert [module for module in _product_modules() if not covered(module)] == []


def test_the_contract_names_no_module_that_does_not_exist():
    existing = set(_product_modules())
    packages = {".".join(module.split(".")[:size]) for module in existing for size in (1, 2, 3)}
    assert sorted(_layered_modules() - existing - packages) == []
