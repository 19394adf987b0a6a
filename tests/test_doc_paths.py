"""Every file and folder that docs/architecture.md and docs/security.md name exists, so that the documents
that say where each job lives keep up with the code when it moves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = ("docs/architecture.md", "docs/security.md")

# The documents' shorthand for a distribution's package folder.
SHORTHAND = {
    "deploy/devnet/…/": "deploy/devnet/src/proml/devnet/",
    **{f"{name}/…/": f"{name}/src/proml/{name}/" for name in ("core", "contracts", "sdk", "cli", "node")},
}
CODE = re.compile(r"`([^`\s]+)`")
# What reads as a path: folders and dots, ending in a file name or a slash; no URL, endpoint or reference.
PATH = re.compile(r"[\w.…-]+(/[\w.…-]*)*(\.(py|sol|md|json|toml|mjs)|/)")
# A blank line, a list item or a table row: a bare name no longer refers to the paths before it.
NEW_CONTEXT = re.compile(r"\s*($|\||- |\d+\. )")
# Named as what is not there, or outside this repository.
NOT_OURS = ("proml/__init__.py", "opentelemetry")


def expand(token: str) -> str:
    for short, folder in SHORTHAND.items():
        if token.startswith(short):
            return folder + token[len(short) :]
    return token


def named_paths(document: str) -> list[tuple[int, str, Path | None]]:
    """Each path the document names, with its line and where it was found (None when nowhere). A bare
    name (`assets.py` after `cli/…/main.py`) is looked for first beside the last path named from the root
    in its paragraph, item or row (a distribution's folder stands for its package), then from the root,
    then in the node's package (`services/outbox.py`)."""
    found = []
    beside: Path | None = None
    for number, line in enumerate((REPO / document).read_text().splitlines(), 1):
        if NEW_CONTEXT.match(line):
            beside = None  # a new paragraph, item or table row
        for token in CODE.findall(line):
            if not PATH.fullmatch(token) or token.startswith(NOT_OURS) or "…" in expand(token):
                continue
            name = expand(token)
            if name == "src/":
                continue  # the layout, not a folder
            where: Path | None = beside / name if beside is not None else None
            if where is None or not where.exists():
                where = REPO / name
                if where.exists():
                    package = REPO / expand(name + "…/")
                    beside = package if package.is_dir() else where if where.is_dir() else where.parent
                else:
                    where = REPO / SHORTHAND["node/…/"] / name
                    where = where if where.exists() else None
            found.append((number, token, where))
    return found


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_path_a_document_names_exists(document: str) -> None:
    named = named_paths(document)
    assert len(named) > 10  # the parser still finds the paths
    assert [f"{document}:{line}: {token}" for line, token, where in named if where is None] == []
