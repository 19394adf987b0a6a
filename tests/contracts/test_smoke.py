from __future__ import annotations

from proml.contracts.hash_chain import check_chain, rollback_proof
from proml.core.workflow import ModelState

from .consortium import Consortium, random_digest


def test_model_lifecycle_chain_and_rollback(consortium: Consortium) -> None:
    data = consortium.dataset("B")
    model = consortium.model("C", ancestors=[data.address])
    for fn in ("selectData", "preprocess", "engineerFeatures", "train", "evaluate"):
        consortium.record(model, fn, "C", inputs=[random_digest()], outputs=[random_digest()])
    consortium.record(model, "validate", "V")
    consortium.record(model, "deploy", "C")
    assert model.functions.state().call() == ModelState.DEPLOYED
    records = consortium.records(model)
    assert check_chain(records, model.functions.head().call()).ok
    proof = rollback_proof(records, 4)  # back to Trained
    digest = random_digest()
    consortium.tx(model.functions.rollback(proof, "regression in production", digest, b""), "C")
    assert model.functions.state().call() == ModelState.TRAINED
