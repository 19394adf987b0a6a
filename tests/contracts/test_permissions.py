"""Who may do what: every permission check of the registry and the assets, refused and permitted.

Each refusal names the exact custom error and shows that nothing was recorded, and the same action by
a party that may do it succeeds; so removing any one check from the contracts fails a test here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from web3.contract import Contract

from proml.contracts.hash_chain import rollback_proof
from proml.core.workflow import ALL_ROLES, Activity, DatasetState, MemberStatus, ModelState, Role

from .consortium import Consortium, cid_for, event_log, random_digest, reverts
from .deployment import dataset_at, deploy_registry, model_at

ZERO_ADDRESS = "0x" + "00" * 20
BEFORE_TRAINING = 0  # AnchorPhase
MAX_RECORDS = 2**24 - 1


# ---------------------------------------------------------------- helpers


def recorded(asset: Contract, receipt: Any) -> list[dict[str, Any]]:
    """The `ProvenanceRecorded` events of `asset` in the transaction."""
    return [args for name, args in event_log(asset, receipt) if name == "ProvenanceRecorded"]


def addr(consortium: Consortium, name: str) -> str:
    return consortium.accounts[name]


def account(consortium: Consortium, index: int) -> str:
    """An eth-tester account that the consortium has not named (D is index 4)."""
    return str(consortium.w3.eth.accounts[index])


def count(asset: Contract) -> int:
    return int(asset.functions.recordCount().call())


def digest_args() -> tuple[bytes, bytes, list[bytes], list[bytes]]:
    digest = random_digest()
    return digest, cid_for(digest), [], []


def batch_record(asset: Contract | str, activity: int) -> tuple[Any, ...]:
    address = asset if isinstance(asset, str) else asset.address
    digest = random_digest()
    return (address, int(activity), digest, cid_for(digest), [], [])


def evaluated_model(consortium: Consortium, owner: str = "C") -> Contract:
    """A model of `owner` taken through the lifecycle up to Evaluated."""
    model = consortium.model(owner)
    for function in ("selectData", "preprocess", "engineerFeatures", "train", "evaluate"):
        consortium.record(model, function, owner)
    assert model.functions.state().call() == ModelState.EVALUATED
    return model


def suspend(consortium: Consortium, name: str, approvers: Sequence[str]) -> None:
    """A proposes to suspend the named member; `approvers` carry it."""
    registry = consortium.registry
    proposal_id = int(registry.functions.proposalCount().call())
    consortium.tx(registry.functions.proposeSuspendMember(addr(consortium, name)), "A")
    for approver in approvers:
        consortium.tx(registry.functions.approve(proposal_id), approver)
    assert registry.functions.memberStatus(addr(consortium, name)).call()[0] == MemberStatus.SUSPENDED


def implementations(consortium: Consortium) -> tuple[Contract, Contract]:
    registry = consortium.registry
    return (
        dataset_at(consortium.w3, registry.functions.datasetImplementation().call()),
        model_at(consortium.w3, registry.functions.modelImplementation().call()),
    )


# ---------------------------------------------------------------- non-members


def test_outsider_cannot_record_activities(consortium: Consortium) -> None:
    outsider = addr(consortium, "outsider")
    data = consortium.dataset("B")
    model = evaluated_model(consortium, "C")
    data_head, model_head = data.functions.head().call(), model.functions.head().call()

    reverts(consortium, data.functions.collect(*digest_args()), "outsider", "NotAMember", account=outsider)
    reverts(consortium, model.functions.train(*digest_args()), "outsider", "NotAMember", account=outsider)
    reverts(consortium, model.functions.validate(*digest_args()), "outsider", "NotAMember", account=outsider)
    digest = random_digest()
    reverts(
        consortium,
        model.functions.anchor(random_digest(), BEFORE_TRAINING, digest, cid_for(digest)),
        "outsider",
        "NotAMember",
        account=outsider,
    )
    # Being made a contributor does not make a non-member a member.
    consortium.tx(data.functions.addContributor(outsider), "B")
    assert data.functions.isContributor(outsider).call() is True
    reverts(consortium, data.functions.collect(*digest_args()), "outsider", "NotAMember", account=outsider)
    assert (count(data), count(model)) == (1, 6)
    assert (data.functions.head().call(), model.functions.head().call()) == (data_head, model_head)

    # The owner, and a validator for the validation, may.
    consortium.record(data, "collect", "B")
    consortium.record(model, "train", "C")
    consortium.record(model, "validate", "V")
    assert (count(data), count(model)) == (2, 8)


def test_outsider_cannot_register_assets(consortium: Consortium) -> None:
    registry = consortium.registry
    outsider = addr(consortium, "outsider")
    for register in (registry.functions.registerDataset, registry.functions.registerModel):
        digest = random_digest()
        reverts(
            consortium,
            register(random_digest(), digest, cid_for(digest), []),
            "outsider",
            "NotAMember",
            account=outsider,
        )
    assert registry.functions.assetCount().call() == 0
    consortium.dataset("B")
    consortium.model("C")
    assert registry.functions.assetCount().call() == 2


def test_outsider_cannot_propose_or_approve(consortium: Consortium) -> None:
    registry = consortium.registry
    outsider, c, d = addr(consortium, "outsider"), addr(consortium, "C"), account(consortium, 4)
    proposals = registry.functions.proposalCount().call()
    attempts = [
        registry.functions.proposeAddMember(d, "D", Role.DATA_ADMIN),
        registry.functions.proposeAddMember(outsider, "Me", ALL_ROLES),
        registry.functions.proposeSuspendMember(c),
        registry.functions.proposeChangeRoles(c, ALL_ROLES),
        registry.functions.proposeThreshold(0),
        registry.functions.approve(0),
    ]
    for function in attempts:
        reverts(consortium, function, "outsider", "NotAMember", account=outsider)
    assert registry.functions.proposalCount().call() == proposals
    assert registry.functions.memberStatus(outsider).call() == [0, 0]

    consortium.tx(registry.functions.proposeThreshold(0), "B")
    assert registry.functions.proposalCount().call() == proposals + 1


# ---------------------------------------------------------------- roles


def test_registering_a_model_needs_model_developer(consortium: Consortium) -> None:
    registry = consortium.registry
    for name in ("B", "V"):  # DATA_ADMIN; VALIDATOR | AUDITOR
        digest = random_digest()
        reverts(
            consortium,
            registry.functions.registerModel(random_digest(), digest, cid_for(digest), []),
            name,
            "MissingRole",
            account=addr(consortium, name),
            role=Role.MODEL_DEVELOPER,
        )
    assert registry.functions.assetCount().call() == 0
    model = consortium.model("C")
    assert model.functions.owner().call() == addr(consortium, "C")
    assert registry.functions.assetCount().call() == 1


def test_registering_a_dataset_needs_data_admin(consortium: Consortium) -> None:
    registry = consortium.registry
    v = addr(consortium, "V")
    digest = random_digest()
    reverts(
        consortium,
        registry.functions.registerDataset(random_digest(), digest, cid_for(digest), []),
        "V",
        "MissingRole",
        account=v,
        role=Role.DATA_ADMIN,
    )
    assert registry.functions.assetCount().call() == 0
    assert consortium.dataset("B").functions.owner().call() == addr(consortium, "B")
    assert consortium.dataset("C").functions.owner().call() == addr(consortium, "C")
    assert registry.functions.assetCount().call() == 2


def test_owner_without_validator_role_cannot_validate(consortium: Consortium) -> None:
    c, b = addr(consortium, "C"), addr(consortium, "B")
    model = evaluated_model(consortium, "C")
    head = model.functions.head().call()
    reverts(
        consortium,
        model.functions.validate(*digest_args()),
        "C",
        "MissingRole",
        account=c,
        role=Role.VALIDATOR,
    )
    # Nor does a contributor's status stand in for the role.
    consortium.tx(model.functions.addContributor(b), "C")
    reverts(
        consortium,
        model.functions.validate(*digest_args()),
        "B",
        "MissingRole",
        account=b,
        role=Role.VALIDATOR,
    )
    assert count(model) == 6
    assert model.functions.head().call() == head
    assert model.functions.state().call() == ModelState.EVALUATED

    # The owner cannot deploy an unvalidated model either: the record is kept, not accepted.
    receipt = consortium.record(model, "deploy", "C")
    assert recorded(model, receipt)[0]["accepted"] is False
    receipt = consortium.record(model, "validate", "V")
    assert recorded(model, receipt)[0]["accepted"] is True
    assert model.functions.state().call() == ModelState.VALIDATED


def test_validator_who_is_neither_owner_nor_contributor_can_validate(consortium: Consortium) -> None:
    v = addr(consortium, "V")
    model = evaluated_model(consortium, "C")
    assert model.functions.isContributor(v).call() is False
    assert model.functions.owner().call() != v
    receipt = consortium.record(model, "validate", "V")
    (event,) = recorded(model, receipt)
    assert event["actor"] == v
    assert event["activity"] == Activity.VALIDATE
    assert event["accepted"] is True
    assert model.functions.state().call() == ModelState.VALIDATED
    assert count(model) == 7
    # The role opens validation only.
    reverts(consortium, model.functions.deploy(*digest_args()), "V", "NotOwnerOrContributor", account=v)
    assert count(model) == 7
    consortium.record(model, "deploy", "C")
    assert model.functions.state().call() == ModelState.DEPLOYED


# ---------------------------------------------------------------- owner and contributors


def test_member_cannot_record_on_someone_elses_asset(consortium: Consortium) -> None:
    a, b = addr(consortium, "A"), addr(consortium, "B")
    data_a = consortium.dataset("A")
    data_b = consortium.dataset("B")
    model = consortium.model("C")
    consortium.record(model, "selectData", "C")

    reverts(consortium, data_a.functions.collect(*digest_args()), "B", "NotOwnerOrContributor", account=b)
    # Every role does not make the founder an owner.
    reverts(consortium, data_b.functions.collect(*digest_args()), "A", "NotOwnerOrContributor", account=a)
    reverts(consortium, model.functions.preprocess(*digest_args()), "B", "NotOwnerOrContributor", account=b)
    digest = random_digest()
    reverts(
        consortium,
        model.functions.anchor(random_digest(), BEFORE_TRAINING, digest, cid_for(digest)),
        "A",
        "NotOwnerOrContributor",
        account=a,
    )
    proof = rollback_proof(consortium.records(model), 0)
    reverts(
        consortium,
        model.functions.rollback(proof, "not mine", digest, cid_for(digest)),
        "A",
        "NotOwnerOrContributor",
        account=a,
    )
    assert (count(data_a), count(data_b), count(model)) == (1, 1, 2)
    assert model.functions.state().call() == ModelState.DATA_SELECTED

    # Each owner may.
    consortium.record(data_a, "collect", "A")
    consortium.record(data_b, "collect", "B")
    consortium.tx(model.functions.anchor(random_digest(), BEFORE_TRAINING, digest, cid_for(digest)), "C")
    proof = rollback_proof(consortium.records(model), 0)
    consortium.tx(model.functions.rollback(proof, "mine", digest, cid_for(digest)), "C")
    assert (count(data_a), count(data_b), count(model)) == (2, 2, 4)
    assert model.functions.state().call() == ModelState.REGISTERED


def test_owner_can_record_every_activity(consortium: Consortium) -> None:
    b = addr(consortium, "B")
    data = consortium.dataset("B")
    assert data.functions.isContributor(b).call() is False
    for function, state in (
        ("collect", DatasetState.COLLECTED),
        ("label", DatasetState.LABELLED),
        ("preprocess", DatasetState.PREPROCESSED),
        ("publish", DatasetState.PUBLISHED),
        ("deprecate", DatasetState.DEPRECATED),
    ):
        (event,) = recorded(data, consortium.record(data, function, "B"))
        assert (event["actor"], event["accepted"], event["toState"]) == (b, True, state)
        assert data.functions.state().call() == state
    assert count(data) == 6


def test_contributor_can_record_until_removed(consortium: Consortium) -> None:
    b = addr(consortium, "B")
    data = consortium.dataset("A")
    other = consortium.dataset("A")
    reverts(consortium, data.functions.collect(*digest_args()), "B", "NotOwnerOrContributor", account=b)

    receipt = consortium.tx(data.functions.addContributor(b), "A")
    assert event_log(data, receipt) == [("ContributorAdded", {"account": b})]
    assert data.functions.isContributor(b).call() is True
    (event,) = recorded(data, consortium.record(data, "collect", "B"))
    assert (event["actor"], event["accepted"]) == (b, True)
    assert data.functions.state().call() == DatasetState.COLLECTED
    assert count(data) == 2
    # Contributor of one asset, not of the owner's others.
    reverts(consortium, other.functions.collect(*digest_args()), "B", "NotOwnerOrContributor", account=b)
    assert count(other) == 1

    receipt = consortium.tx(data.functions.removeContributor(b), "A")
    assert event_log(data, receipt) == [("ContributorRemoved", {"account": b})]
    assert data.functions.isContributor(b).call() is False
    reverts(consortium, data.functions.label(*digest_args()), "B", "NotOwnerOrContributor", account=b)
    assert count(data) == 2
    assert data.functions.state().call() == DatasetState.COLLECTED
    consortium.record(data, "label", "A")
    assert count(data) == 3


def test_contributor_of_a_model_can_anchor_and_roll_back(consortium: Consortium) -> None:
    b = addr(consortium, "B")
    model = consortium.model("C")
    consortium.record(model, "selectData", "C")
    digest = random_digest()
    reverts(
        consortium,
        model.functions.anchor(random_digest(), BEFORE_TRAINING, digest, cid_for(digest)),
        "B",
        "NotOwnerOrContributor",
        account=b,
    )
    consortium.tx(model.functions.addContributor(b), "C")
    receipt = consortium.tx(
        model.functions.anchor(random_digest(), BEFORE_TRAINING, digest, cid_for(digest)), "B"
    )
    assert recorded(model, receipt)[0]["actor"] == b
    proof = rollback_proof(consortium.records(model), 0)
    receipt = consortium.tx(model.functions.rollback(proof, "redo", digest, cid_for(digest)), "B")
    assert recorded(model, receipt)[0]["actor"] == b
    assert model.functions.state().call() == ModelState.REGISTERED
    assert count(model) == 4


def test_only_the_owner_manages_contributors(consortium: Consortium) -> None:
    a, b, c = addr(consortium, "A"), addr(consortium, "B"), addr(consortium, "C")
    data = consortium.dataset("A")
    reverts(consortium, data.functions.addContributor(b), "B", "NotOwner", account=b)
    reverts(
        consortium,
        data.functions.addContributor(c),
        "outsider",
        "NotOwner",
        account=addr(consortium, "outsider"),
    )
    assert data.functions.isContributor(b).call() is False
    assert data.functions.isContributor(c).call() is False

    consortium.tx(data.functions.addContributor(c), "A")
    # A contributor may record, not manage contributors.
    reverts(consortium, data.functions.addContributor(b), "C", "NotOwner", account=c)
    reverts(consortium, data.functions.removeContributor(c), "C", "NotOwner", account=c)
    reverts(consortium, data.functions.removeContributor(c), "B", "NotOwner", account=b)
    assert data.functions.isContributor(c).call() is True
    assert data.functions.isContributor(b).call() is False

    # Holding every role does not make the founder the owner of B's dataset.
    data_b = consortium.dataset("B")
    reverts(consortium, data_b.functions.addContributor(a), "A", "NotOwner", account=a)
    assert data_b.functions.isContributor(a).call() is False

    consortium.tx(data.functions.removeContributor(c), "A")
    assert data.functions.isContributor(c).call() is False


def test_add_contributor_rejects_zero_address(consortium: Consortium) -> None:
    data = consortium.dataset("B")
    reverts(consortium, data.functions.addContributor(ZERO_ADDRESS), "B", "ZeroAddress")
    assert data.functions.isContributor(ZERO_ADDRESS).call() is False
    receipt = consortium.tx(data.functions.addContributor(addr(consortium, "C")), "B")
    assert event_log(data, receipt) == [("ContributorAdded", {"account": addr(consortium, "C")})]


# ---------------------------------------------------------------- suspended members


def test_suspended_owner_can_no_longer_record(consortium: Consortium) -> None:
    registry = consortium.registry
    b = addr(consortium, "B")
    data = consortium.dataset("B")
    consortium.record(data, "collect", "B")
    consortium.tx(data.functions.addContributor(addr(consortium, "C")), "B")
    suspend(consortium, "B", ["C", "V"])

    reverts(consortium, data.functions.label(*digest_args()), "B", "SuspendedMember", account=b)
    reverts(
        consortium,
        registry.functions.recordBatch([batch_record(data, Activity.LABEL)]),
        "B",
        "SuspendedMember",
        account=b,
    )
    digest = random_digest()
    reverts(
        consortium,
        registry.functions.registerDataset(random_digest(), digest, cid_for(digest), []),
        "B",
        "SuspendedMember",
        account=b,
    )
    assert count(data) == 2
    assert data.functions.state().call() == DatasetState.COLLECTED
    assert registry.functions.assetCount().call() == 1

    # The asset and its history stay; an active contributor carries on.
    (event,) = recorded(data, consortium.record(data, "label", "C"))
    assert event["accepted"] is True
    assert count(data) == 3


def test_suspended_owner_can_no_longer_manage_contributors(consortium: Consortium) -> None:
    """docs/contracts.md: a suspended member "can no longer act". Granting or withdrawing the right to
    record on its assets is acting, so a suspended owner must be refused like any other suspended caller.
    """
    b, c, v = addr(consortium, "B"), addr(consortium, "C"), addr(consortium, "V")
    data = consortium.dataset("B")
    consortium.tx(data.functions.addContributor(c), "B")  # while active: allowed
    assert data.functions.isContributor(c).call() is True
    suspend(consortium, "B", ["C", "V"])

    reverts(consortium, data.functions.addContributor(v), "B", "SuspendedMember", account=b)
    assert data.functions.isContributor(v).call() is False
    reverts(consortium, data.functions.removeContributor(c), "B", "SuspendedMember", account=b)
    assert data.functions.isContributor(c).call() is True


def test_suspended_validator_cannot_validate(consortium: Consortium) -> None:
    registry = consortium.registry
    v = addr(consortium, "V")
    model = evaluated_model(consortium, "C")
    assert model.functions.validate(*digest_args()).call({"from": v}) is True  # V may, before
    suspend(consortium, "V", ["B", "C"])

    reverts(consortium, model.functions.validate(*digest_args()), "V", "SuspendedMember", account=v)
    reverts(
        consortium,
        registry.functions.recordBatch([batch_record(model, Activity.VALIDATE)]),
        "V",
        "SuspendedMember",
        account=v,
    )
    assert count(model) == 6
    assert model.functions.state().call() == ModelState.EVALUATED
    consortium.record(model, "validate", "A")  # an active validator
    assert model.functions.state().call() == ModelState.VALIDATED


# ---------------------------------------------------------------- registry-only entry points


def test_initialize_is_for_the_registry_only(consortium: Consortium) -> None:
    data = consortium.dataset("B")
    model = consortium.model("C")
    head = data.functions.head().call()
    for asset, sender in ((data, "B"), (data, "outsider"), (model, "C"), (model, "A")):
        digest = random_digest()
        reverts(
            consortium,
            asset.functions.initialize(random_digest(), digest, cid_for(digest)),
            sender,
            "NotRegistry",
            caller=addr(consortium, sender),
        )
    for implementation in implementations(consortium):
        digest = random_digest()
        reverts(
            consortium,
            implementation.functions.initialize(random_digest(), digest, cid_for(digest)),
            "A",
            "NotRegistry",
            caller=addr(consortium, "A"),
        )
        assert count(implementation) == MAX_RECORDS
    assert (count(data), count(model)) == (1, 1)
    assert data.functions.head().call() == head
    # The registry does initialise the clones it makes: their registration record is there.
    assert consortium.records(data)[0].activity == Activity.REGISTER


def test_record_from_registry_is_for_the_registry_only(consortium: Consortium) -> None:
    registry = consortium.registry
    data = consortium.dataset("B")
    b = addr(consortium, "B")
    for sender, actor in (("B", b), ("outsider", addr(consortium, "outsider")), ("outsider", b)):
        reverts(
            consortium,
            data.functions.recordFromRegistry(
                actor, MemberStatus.ACTIVE, ALL_ROLES, Activity.COLLECT, *digest_args()
            ),
            sender,
            "NotRegistry",
            caller=addr(consortium, sender),
        )
    model = consortium.model("C")
    reverts(
        consortium,
        model.functions.recordFromRegistry(
            addr(consortium, "outsider"), MemberStatus.ACTIVE, ALL_ROLES, Activity.VALIDATE, *digest_args()
        ),
        "outsider",
        "NotRegistry",
        caller=addr(consortium, "outsider"),
    )
    assert (count(data), count(model)) == (1, 1)

    # Through the registry, which looks up the caller itself, the same record goes in.
    assert registry.functions.recordBatch([batch_record(data, Activity.COLLECT)]).call({"from": b}) == [True]
    receipt = consortium.tx(registry.functions.recordBatch([batch_record(data, Activity.COLLECT)]), "B")
    assert recorded(data, receipt)[0]["actor"] == b
    assert count(data) == 2


def test_implementations_are_locked(consortium: Consortium) -> None:
    registry = consortium.registry
    a, v = addr(consortium, "A"), addr(consortium, "V")
    data_impl, model_impl = implementations(consortium)
    for implementation in (data_impl, model_impl):
        assert implementation.functions.MAX_RECORDS().call() == MAX_RECORDS
        assert count(implementation) == MAX_RECORDS
        assert implementation.functions.head().call() == bytes(28)
        assert implementation.functions.registry().call() == registry.address
        # Its "owner" is whatever its code holds where a clone holds its owner: none of ours.
        assert implementation.functions.owner().call() not in consortium.accounts.values()
        reverts(
            consortium,
            registry.functions.recordBatch([batch_record(implementation, Activity.COLLECT)]),
            "A",
            "NotAnAsset",
            asset=implementation.address,
        )

    reverts(consortium, data_impl.functions.collect(*digest_args()), "A", "NotOwnerOrContributor", account=a)
    reverts(consortium, data_impl.functions.addContributor(a), "A", "NotOwner", account=a)
    # A validator passes every check a clone would make, and meets the lock.
    reverts(consortium, model_impl.functions.validate(*digest_args()), "V", "RecordLimitReached")
    assert (count(data_impl), count(model_impl)) == (MAX_RECORDS, MAX_RECORDS)
    assert data_impl.functions.isContributor(a).call() is False

    # The same validation on a clone of that implementation is recorded.
    model = consortium.model("C")
    (event,) = recorded(model, consortium.record(model, "validate", "V"))
    assert event["actor"] == v
    assert count(model) == 2


# ---------------------------------------------------------------- recordBatch


def test_batch_by_non_member_records_nothing(consortium: Consortium) -> None:
    registry = consortium.registry
    outsider = addr(consortium, "outsider")
    data = consortium.dataset("B")
    model = consortium.model("C")
    batch = [batch_record(data, Activity.COLLECT), batch_record(model, Activity.SELECT_DATA)]
    reverts(consortium, registry.functions.recordBatch(batch), "outsider", "NotAMember", account=outsider)
    assert (count(data), count(model)) == (1, 1)

    consortium.tx(registry.functions.recordBatch([batch[0]]), "B")
    consortium.tx(registry.functions.recordBatch([batch[1]]), "C")
    assert (count(data), count(model)) == (2, 2)


def test_batch_by_member_without_rights_records_nothing(consortium: Consortium) -> None:
    registry = consortium.registry
    b, c = addr(consortium, "B"), addr(consortium, "C")
    own = consortium.dataset("B")
    foreign = consortium.dataset("A")
    model = consortium.model("C")

    # The first record is B's to make; the second is not; neither goes in.
    batch = [batch_record(own, Activity.COLLECT), batch_record(foreign, Activity.COLLECT)]
    reverts(consortium, registry.functions.recordBatch(batch), "B", "NotOwnerOrContributor", account=b)
    batch_c = [batch_record(model, Activity.SELECT_DATA), batch_record(model, Activity.VALIDATE)]
    reverts(
        consortium,
        registry.functions.recordBatch(batch_c),
        "C",
        "MissingRole",
        account=c,
        role=Role.VALIDATOR,
    )
    assert (count(own), count(foreign), count(model)) == (1, 1, 1)
    assert own.functions.state().call() == DatasetState.REGISTERED

    # With the rights, the same batch goes in whole, signed by the caller.
    consortium.tx(foreign.functions.addContributor(b), "A")
    assert registry.functions.recordBatch(batch).call({"from": b}) == [True, True]
    receipt = consortium.tx(registry.functions.recordBatch(batch), "B")
    assert [e["actor"] for e in recorded(own, receipt) + recorded(foreign, receipt)] == [b, b]
    assert (count(own), count(foreign)) == (2, 2)
    consortium.tx(registry.functions.recordBatch(batch_c[:1]), "C")
    assert count(model) == 2


def test_batch_refuses_register_rollback_and_anchor(consortium: Consortium) -> None:
    registry = consortium.registry
    model = consortium.model("C")
    data = consortium.dataset("C")
    for activity in (Activity.REGISTER, Activity.ROLLBACK, Activity.ANCHOR):
        for asset in (model, data):
            batch = [batch_record(asset, Activity.PREPROCESS), batch_record(asset, activity)]
            reverts(
                consortium,
                registry.functions.recordBatch(batch),
                "C",
                "UnsupportedActivity",
                activity=activity,
            )
        # The registry refuses these before it asks the asset who may record: whoever sends them.
        for sender in ("B", "V"):
            reverts(
                consortium,
                registry.functions.recordBatch([batch_record(model, activity)]),
                sender,
                "UnsupportedActivity",
                activity=activity,
            )
    assert (count(model), count(data)) == (1, 1)
    consortium.tx(registry.functions.recordBatch([batch_record(model, Activity.SELECT_DATA)]), "C")
    assert model.functions.state().call() == ModelState.DATA_SELECTED


def test_batch_refuses_non_assets(consortium: Consortium) -> None:
    registry = consortium.registry
    data = consortium.dataset("B")
    data_impl, model_impl = implementations(consortium)
    foreign_registry = deploy_registry(consortium.w3, "Other", account(consortium, 5))
    consortium.tx(
        foreign_registry.functions.registerDataset(random_digest(), random_digest(), b"", []),
        account(consortium, 5),
    )
    foreign_asset = foreign_registry.functions.assetAt(0).call()
    for not_asset in (
        addr(consortium, "outsider"),
        ZERO_ADDRESS,
        registry.address,
        data_impl.address,
        model_impl.address,
        foreign_asset,
    ):
        batch = [batch_record(data, Activity.COLLECT), batch_record(not_asset, Activity.COLLECT)]
        reverts(consortium, registry.functions.recordBatch(batch), "B", "NotAnAsset", asset=not_asset)
    assert count(data) == 1
    consortium.tx(registry.functions.recordBatch([batch_record(data, Activity.COLLECT)]), "B")
    assert count(data) == 2


def test_empty_batch(consortium: Consortium) -> None:
    registry = consortium.registry
    for sender in ("A", "outsider"):
        reverts(consortium, registry.functions.recordBatch([]), sender, "EmptyBatch")


def test_batch_activity_of_the_other_kind_is_unsupported(consortium: Consortium) -> None:
    registry = consortium.registry
    model = consortium.model("C")
    data = consortium.dataset("C")
    for activity in (Activity.COLLECT, Activity.LABEL, Activity.PUBLISH, Activity.DEPRECATE):
        reverts(
            consortium,
            registry.functions.recordBatch([batch_record(model, activity)]),
            "C",
            "UnsupportedActivity",
            activity=activity,
        )
    for activity in (Activity.SELECT_DATA, Activity.TRAIN, Activity.DEPLOY, Activity.RETIRE):
        reverts(
            consortium,
            registry.functions.recordBatch([batch_record(data, activity)]),
            "C",
            "UnsupportedActivity",
            activity=activity,
        )
    # A validator passes the role check, and a dataset has no validation.
    reverts(
        consortium,
        registry.functions.recordBatch([batch_record(data, Activity.VALIDATE)]),
        "V",
        "UnsupportedActivity",
        activity=Activity.VALIDATE,
    )
    assert (count(model), count(data)) == (1, 1)

    # Preprocessing is an activity of both kinds.
    batch = [batch_record(model, Activity.PREPROCESS), batch_record(data, Activity.PREPROCESS)]
    assert registry.functions.recordBatch(batch).call({"from": addr(consortium, "C")}) == [False, False]
    consortium.tx(registry.functions.recordBatch(batch), "C")
    assert (count(model), count(data)) == (2, 2)
