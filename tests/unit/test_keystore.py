from __future__ import annotations

import copy
import os
import pickle
import stat
from pathlib import Path

import pytest
from eth_account import Account

from proml.node.clients import keystore
from proml.node.providers.signer import Signer

PASSPHRASE = "correct horse battery staple"


def test_keystore_round_trip_is_encrypted_and_private(tmp_path: Path) -> None:
    path = tmp_path / "org" / "key.json"
    key = os.urandom(32)
    address = keystore.create_keystore(path, PASSPHRASE, key)
    assert address == Account.from_key(key).address
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert key.hex() not in text and PASSPHRASE not in text
    assert keystore.keystore_address(path).lower() == address.lower()
    assert keystore.decrypt_keystore(path, PASSPHRASE) == key


def test_wrong_passphrase_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    keystore.create_keystore(path, PASSPHRASE)
    with pytest.raises(keystore.WrongPassphrase) as info:
        keystore.decrypt_keystore(path, "not the passphrase")
    assert "not the passphrase" not in str(info.value)


def test_existing_keystore_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    keystore.create_keystore(path, PASSPHRASE)
    before = path.read_bytes()
    with pytest.raises(keystore.KeystoreExists):
        keystore.create_keystore(path, PASSPHRASE)
    assert path.read_bytes() == before


def test_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(keystore.KeystoreError, match="at least 8"):
        keystore.create_keystore(tmp_path / "key.json", "short")
    assert not (tmp_path / "key.json").exists()


def test_missing_keystore_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(keystore.KeystoreNotFound, match="proml init"):
        keystore.decrypt_keystore(tmp_path / "nope.json", PASSPHRASE)


def test_passphrase_from_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "pass"
    file.write_text("from-file-secret\n")
    monkeypatch.setenv("PROML_TEST_PASSPHRASE", "from-env-secret")
    assert keystore.read_passphrase("PROML_TEST_PASSPHRASE", file) == "from-file-secret"
    assert keystore.read_passphrase("PROML_TEST_PASSPHRASE", None) == "from-env-secret"
    monkeypatch.delenv("PROML_TEST_PASSPHRASE")
    with pytest.raises(keystore.PassphraseMissing, match="PROML_TEST_PASSPHRASE"):
        keystore.read_passphrase("PROML_TEST_PASSPHRASE", None)
    with pytest.raises(keystore.PassphraseMissing, match="cannot read"):
        keystore.read_passphrase(None, tmp_path / "absent")


def test_signer_signs_and_keeps_the_key_inside(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    key = os.urandom(32)
    keystore.create_keystore(path, PASSPHRASE, key)
    signer = Signer.from_keystore(path, PASSPHRASE)
    tx = {"to": signer.address, "value": 0, "gas": 21_000, "gasPrice": 1, "nonce": 0, "chainId": 31337}
    raw = signer.sign_transaction(tx)
    assert Account.recover_transaction(raw) == signer.address
    assert key.hex() not in repr(signer) and key.hex() not in str(vars(type(signer)))
    assert not hasattr(signer, "key") and not hasattr(signer, "__dict__")
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        copy.deepcopy(signer)
