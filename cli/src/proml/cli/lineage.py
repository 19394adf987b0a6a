"""`proml lineage ASSET`: what an asset derives from and what derives from it, as a text tree, DOT, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from proml.sdk import Node
from proml.sdk.views import AssetSummary, Lineage

from .connection import Target, with_node
from .output import json_option, print_json


def _label(node: AssetSummary) -> str:
    return f"{node.address}  {node.kind} {node.state}  {node.owner_label}"


def text_tree(graph: Lineage) -> str:
    """The root, then what it derives from (upward) and what derives from it (downward), each edge marked
    with how it was declared. An asset reached twice is written in full once, then as `(see above)`."""
    nodes = {n.address: n for n in graph.nodes}
    parents: dict[str, list[tuple[str, str]]] = {}
    children: dict[str, list[tuple[str, str]]] = {}
    for edge in graph.edges:
        parents.setdefault(edge.target, []).append((edge.source, edge.via))
        children.setdefault(edge.source, []).append((edge.target, edge.via))
    root = graph.root
    lines = [_label(nodes[root])]

    def walk(neighbours: dict[str, list[tuple[str, str]]], title: str) -> None:
        if not neighbours.get(root):
            return
        lines.append(title)
        seen = {root}

        def branch(address: str, prefix: str) -> None:
            edges = neighbours.get(address, [])
            for i, (other, via) in enumerate(edges):
                last = i == len(edges) - 1
                again = other in seen
                lines.append(
                    f"{prefix}{'└── ' if last else '├── '}[{via}] "
                    + (f"{other} (see above)" if again else _label(nodes[other]))
                )
                if not again:
                    seen.add(other)
                    branch(other, prefix + ("    " if last else "│   "))

        branch(root, "  ")

    walk(parents, "derived from:")
    walk(children, "used by:")
    return "\n".join(lines)


def _dot_string(text: str) -> str:
    """A quoted DOT string; a line break becomes DOT's centred `\\n`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def dot(graph: Lineage) -> str:
    """Graphviz: edges from the source to what derives from it; inputs dashed, the root bold."""
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for node in graph.nodes:
        label = _dot_string(f"{node.kind} {node.state}\n{node.address}\n{node.owner_name or ''}")
        style = ", style=bold" if node.address == graph.root else ""
        lines.append(f"  {_dot_string(node.address)} [label={label}{style}];")
    for edge in graph.edges:
        style = ", style=dashed" if edge.via == "input" else ""
        lines.append(f"  {_dot_string(edge.source)} -> {_dot_string(edge.target)} [label={edge.via}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@click.command("lineage")
@click.argument("asset")
@click.option("--dot", "dot_path", type=click.Path(path_type=Path, dir_okay=False), help="Write DOT here.")
@click.option(
    "--json-file",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the graph as JSON here.",
)
@json_option
@with_node
def lineage_command(
    node: Node, target: Target, asset: str, dot_path: Path | None, json_path: Path | None, as_json: bool
) -> None:
    """ASSET's ancestors and descendants: a text tree on stdout (--json: the graph as JSON); --dot and
    --json-file write files."""
    graph = node.lineage(asset)
    writers: list[tuple[Path | None, Callable[[Lineage], str]]] = [
        (dot_path, dot),
        (json_path, lambda g: json.dumps(g.to_dict(), indent=2) + "\n"),
    ]
    for path, render in writers:
        if path is not None:
            _write(path, render(graph))
    if as_json:
        print_json(graph.to_dict())
    else:
        click.echo(text_tree(graph))
        for path, _ in writers:
            if path is not None:
                click.echo(f"wrote {path}")
