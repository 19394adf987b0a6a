"""The SDK's objects say what they are when printed, and never show the API key."""

from __future__ import annotations

from proml.sdk import Node, Record
from proml.sdk.client import Asset
from proml.sdk.transport import Transport

URL = "http://127.0.0.1:8701"
KEY = "proml_secret-api-key-never-printed"
ASSET = "0x" + "ab" * 20


def test_a_node_shows_its_url_and_not_its_key() -> None:
    with Node(Transport(URL, KEY)) as node:
        assert repr(node) == f"Node({URL!r})"
        assert KEY not in repr(node)


def test_records_assets_and_activity_blocks_show_what_was_recorded() -> None:
    with Node(Transport(URL, KEY)) as node:
        record = Record(node, {"id": "e1", "status": "final", "asset": ASSET, "seq": 3, "accepted": False})
        assert repr(record) == f"Record(id='e1', status='final', asset={ASSET!r}, seq=3, accepted=False)"
        queued = Record(node, {"id": "e2", "status": "queued"})
        assert repr(queued) == "Record(id='e2', status='queued')"  # what is not known yet is left out
        asset = Asset(
            node, {"id": "e3", "status": "final", "asset": ASSET}, kind="dataset", name="raw", digest=None
        )
        assert repr(asset) == f"Asset(id='e3', status='final', kind='dataset', name='raw', address={ASSET!r})"
        block = asset.activity("train")
        assert repr(block) == f"ActivityBlock(asset={ASSET!r}, activity='train')"
        assert KEY not in repr(record) + repr(asset) + repr(block)
