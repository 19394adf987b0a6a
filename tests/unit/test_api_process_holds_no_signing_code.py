"""The API process holds no key, and does not even load the code that signs: eth-account (and what it
brings) is imported only by the background process, which decrypts the key (clients/keystore.py)."""

from __future__ import annotations

import subprocess
import sys


def test_the_api_process_modules_do_not_import_eth_account() -> None:
    probe = (
        "import sys, proml.node.api.app, proml.node.runtime, proml.node.composition;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('eth_account', 'eth_keyfile', 'py_ecc')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
