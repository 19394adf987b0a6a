"""`proml outbox show`: a write the node acknowledged (its outbox entry), followed to the chain if asked;
what an interrupted command points at."""

from __future__ import annotations

import click

from proml.sdk import Node

from .assets import report_entry
from .connection import Target, with_node
from .output import json_option


@click.group("outbox")
def outbox() -> None:
    """The writes this node has acknowledged, on their way to the chain."""


@outbox.command("show")
@click.argument("ref", metavar="outbox:ID")
@click.option("--wait", is_flag=True, help="Wait until it is final on chain and in the node's index.")
@json_option
@with_node
def show_command(node: Node, target: Target, ref: str, wait: bool, as_json: bool) -> None:
    """Where the write outbox:ID is: queued, submitted, included, final or failed."""
    report_entry(node.entry(ref), wait, as_json)
