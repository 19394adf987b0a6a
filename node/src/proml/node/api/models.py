"""The JSON bodies and parameters the API accepts, as strict as the node's own validation, so that the
OpenAPI document says what the node takes. Unknown fields are refused, so a typo is an error, not a silent
loss; every string has a length bound (docs/api.md lists them), so a refusal names the field."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from proml.contracts.addresses import ADDRESS_PATTERN
from proml.core.records import MAX_SAFE_INTEGER

# Length bounds, in characters. Generous for what each field is for; the record document as a whole is
# also bounded (proml.core.records.MAX_DOCUMENT_BYTES), which a record near every bound at once would pass.
MAX_NAME: Final = 512  # asset, artifact, member and API-key names
MAX_KIND: Final = 64  # an artifact's kind
MAX_KEY: Final = 256  # parameter, metric and package names
MAX_TEXT: Final = 65_536  # notes, a rollback's reason, a string among the parameters
MAX_VERSION: Final = 256  # the Python and package versions, the code revision
MAX_ITEMS: Final = 256  # inputs, outputs, ancestors

DIGEST_PATTERN: Final = r"^(sha256|blake3):[0-9a-fA-F]{64}$"
# CIDv0 (base58btc, 46 characters) or a CIDv1 in base32, base58btc or base16, as CID.parse reads them.
CID_PATTERN: Final = (
    r"^(Qm[1-9A-HJ-NP-Za-km-z]{44}|[bB][A-Za-z2-7]{8,200}|z[1-9A-HJ-NP-Za-km-z]{8,200}"
    r"|[fF][0-9a-fA-F]{8,400})$"
)
ASSET_REF_PATTERN: Final = r"^(0x[0-9a-fA-F]{40}|outbox:[0-9a-f]{32})$"
ENTRY_PATTERN: Final = r"^(outbox:)?[0-9a-f]{32}$"
TIMESTAMP_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$"
ROOT_PATTERN: Final = r"^0x[0-9a-fA-F]{64}$"
KEY_ID_PATTERN: Final = r"^[0-9a-f]{16}$"
NOT_BLANK_PATTERN: Final = r"\S"
# What a refusal says for each pattern: what to send, not the regular expression.
PATTERN_MEANINGS: Final = {
    DIGEST_PATTERN: "a digest: sha256:<64 hex digits> or blake3:<64 hex digits>",
    CID_PATTERN: "a CID as `ipfs add` printed it (Qm... or b...)",
    ADDRESS_PATTERN: "an address: 0x and 40 hexadecimal digits",
    ASSET_REF_PATTERN: "an asset: its address (0x and 40 hex digits) or outbox:<id> of its registration",
    ENTRY_PATTERN: "an outbox entry: its id (32 hex digits) or outbox:<id>",
    TIMESTAMP_PATTERN: "an RFC 3339 UTC time, e.g. 2026-11-21T10:00:00.000Z",
    ROOT_PATTERN: "a Merkle root: 0x and 64 hex digits",
    KEY_ID_PATTERN: "an API key id (16 hex digits) as GET /v1/keys lists it",
    NOT_BLANK_PATTERN: "some text that is not only blanks",
}

# The activities a record request may name: those of a dataset's or a model's state machine
# (registrations, anchors and rollbacks have requests of their own). A unit test holds this to
# proml.core.workflow.TRANSITIONS (tests/unit/test_api_models.py).
RecordActivity = Literal[
    "collect",
    "label",
    "preprocess",
    "publish",
    "deprecate",
    "select_data",
    "engineer_features",
    "train",
    "evaluate",
    "validate",
    "deploy",
    "retire",
]
# The roles a membership proposal may give: those of proml.core.workflow.Role, held to it by the same test.
RoleName = Literal["data_admin", "model_developer", "validator", "auditor"]

Address = Annotated[str, StringConstraints(pattern=ADDRESS_PATTERN)]
AssetRef = Annotated[str, StringConstraints(pattern=ASSET_REF_PATTERN)]
Digest = Annotated[str, StringConstraints(pattern=DIGEST_PATTERN)]
Cid = Annotated[str, StringConstraints(pattern=CID_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
Said = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, pattern=NOT_BLANK_PATTERN)]
Key = Annotated[str, StringConstraints(max_length=MAX_KEY)]
NamedKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY)]
Version = Annotated[str, StringConstraints(min_length=1, max_length=MAX_VERSION)]
Timestamp = Annotated[str, StringConstraints(pattern=TIMESTAMP_PATTERN)]
ByteCount = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]
Seq = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """Every key and string inside the parameters, at any depth, within the bounds of the top level."""

    def walk(path: str, item: Any) -> None:
        if isinstance(item, str) and len(item) > MAX_TEXT:
            raise ValueError(f"{path} is {len(item)} characters long; the most is {MAX_TEXT}")
        if isinstance(item, dict):
            for key, inner in item.items():
                if len(key) > MAX_KEY:
                    raise ValueError(f"a key in {path} is {len(key)} characters long; the most is {MAX_KEY}")
                walk(f"{path}.{key}", inner)
        elif isinstance(item, list):
            for i, inner in enumerate(item):
                walk(f"{path}[{i}]", inner)

    walk("parameters", value)
    return value


Parameters = Annotated[dict[Key, Any], AfterValidator(_bounded_json)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Content(_Strict):
    digest: Digest = Field(description="`sha256:<hex>` or `blake3:<hex>`")
    cid: Cid | None = Field(None, description="where the payload is on IPFS, if it was uploaded")
    size: ByteCount | None = None


class RequestArtifact(_Strict):
    """An input or output as a record request names it; the record document holds it as a
    `proml.core.records.Artifact`."""

    name: Name
    kind: Annotated[str, StringConstraints(min_length=1, max_length=MAX_KIND)]
    digest: Digest
    cid: Cid | None = None
    size: ByteCount | None = None
    asset: AssetRef | None = Field(None, description="the asset's address (or outbox:<id>) when it is one")


class Environment(_Strict):
    """Where the work ran; never collected by the node."""

    python: Version
    packages: dict[NamedKey, Version] = Field(default_factory=dict)
    code_revision: Version | None = None


class _Described(_Strict):
    parameters: Parameters = Field(default_factory=dict)
    metrics: dict[NamedKey, int | float] = Field(default_factory=dict)
    environment: Environment | None = None
    notes: Annotated[str, StringConstraints(max_length=MAX_TEXT)] | None = None
    started_at: Timestamp | None = Field(None, description="RFC 3339 UTC, e.g. 2026-11-21T10:00:00.000Z")
    ended_at: Timestamp | None = None

    def described(self) -> dict[str, Any]:
        """The fields every record request shares, as the capture service takes them."""
        fields = {name: getattr(self, name) for name in _Described.model_fields}
        if self.environment is not None:
            fields["environment"] = self.environment.model_dump(exclude_none=True)
        return fields


class RegistrationRequest(_Described):
    name: Name
    content: Content | None = None
    ancestors: list[AssetRef] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="addresses or outbox:<id> of parents"
    )


class DatasetRegistration(RegistrationRequest):
    content: Content = Field(description="the digest (and CID and size, when uploaded) of the dataset")


class ModelRegistration(RegistrationRequest):
    content: Content | None = Field(None, description="the weights, if there are any yet")


class RecordRequest(_Described):
    activity: RecordActivity
    inputs: list[RequestArtifact] = Field(default_factory=list, max_length=MAX_ITEMS)
    outputs: list[RequestArtifact] = Field(default_factory=list, max_length=MAX_ITEMS)


class KeyRequest(_Strict):
    name: Name
    scopes: list[Literal["read", "write", "admin"]] = Field(min_length=1, max_length=3)


class AnchorRequest(_Described):
    root: Annotated[str, StringConstraints(pattern=ROOT_PATTERN)] = Field(
        description="the Merkle root, 0x and 64 hex digits"
    )
    phase: Literal["before_training", "after_training"]


class RollbackRequest(_Described):
    to_seq: Seq = Field(description="an earlier accepted record of the model")
    reason: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=NOT_BLANK_PATTERN)
    ] = Field(description="why; kept on chain")


Roles = Annotated[list[RoleName], Field(min_length=1, max_length=4)]


class AddMember(_Strict):
    kind: Literal["add_member"]
    account: Address
    name: Said
    roles: Roles


class SuspendMember(_Strict):
    kind: Literal["suspend_member"]
    account: Address


class ChangeRoles(_Strict):
    kind: Literal["change_roles"]
    account: Address
    roles: Roles


class ChangeThreshold(_Strict):
    kind: Literal["change_threshold"]
    threshold_bps: int = Field(ge=1, le=10_000, description="basis points: 5000 is half the members")


ProposalRequest = Annotated[
    AddMember | SuspendMember | ChangeRoles | ChangeThreshold, Field(discriminator="kind")
]
