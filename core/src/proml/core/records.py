"""The provenance record document: the full, canonical description of one recorded activity.

Every record on chain carries ``recordDigest``, the SHA-256 of this document's canonical bytes, and
``recordCID``, where the document is kept on IPFS. The document is JSON, canonicalised by RFC 8785 (JCS),
and schema-versioned (``"schema": "proml.record/1"``); its JSON Schema is ``docs/record-schema.json``.

It holds only what the user chose to record (user-driven capture): ``environment_snapshot`` records the
Python version and the versions of the packages it is *asked* for, nothing else. An input or output may be
recorded by digest only (no ``cid``), without uploading the payload.

This module imports neither web3, nor an HTTP client, nor the node's server stack: the node and the SDK
share it.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final, TypeAlias

from proml.core.content.cid import CID
from proml.core.workflow import Activity

SCHEMA: Final = "proml.record/1"
ACTIVITIES: Final[tuple[str, ...]] = tuple(a.name.lower() for a in Activity)
# I-JSON / JCS: numbers are IEEE-754 doubles, so only integers in this range are exact.
MAX_SAFE_INTEGER: Final = 2**53 - 1
# The largest document a node stores, and the most that verification and replication read: one limit for
# all three, so that no node acknowledges a record that no node can then verify.
MAX_DOCUMENT_BYTES: Final = 1 << 20

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_DIGEST = re.compile(r"(sha256|blake3):[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


# --- errors ----------------------------------------------------------------------------------------------


class CanonicalJsonError(ValueError):
    """A value that RFC 8785 cannot serialise (NaN, an infinity, an unsafe integer, a lone surrogate...)."""


class RecordDocumentError(ValueError):
    """A record document that is not valid. ``field`` is the path of the offending field ("" for all)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message

    def relocated(self, old: str, new: str) -> RecordDocumentError:
        """The same error for a field reached by another path (``artifact.cid`` -> ``inputs[0].cid``)."""
        return type(self)(new + self.field.removeprefix(old), self.detail)


class InvalidField(RecordDocumentError):
    """A field is present but its value is not allowed."""


class MissingField(RecordDocumentError):
    """A required field is absent."""


class UnknownField(RecordDocumentError):
    """A field that this schema version does not define."""


class UnsupportedSchema(RecordDocumentError):
    """The document's ``schema`` is not ``proml.record/1``."""


class MalformedDocument(RecordDocumentError):
    """The bytes are not a JSON document (not UTF-8, not JSON, duplicate keys, NaN...)."""


class NonCanonicalDocument(RecordDocumentError):
    """The document is valid but its bytes are not the canonical (JCS) form."""


class DocumentTooLarge(RecordDocumentError):
    """The canonical bytes are over ``MAX_DOCUMENT_BYTES``; ``field`` is the one that takes most room."""


class PackageNotInstalled(RecordDocumentError):
    """``environment_snapshot`` was asked for a package that is not installed."""


# --- RFC 8785 (JCS) --------------------------------------------------------------------------------------


def format_number(value: float) -> str:
    """A finite double as ECMAScript's ``Number.prototype.toString`` writes it (RFC 8785, section 3.2.2.3)."""
    if not math.isfinite(value):
        raise CanonicalJsonError(f"{value!r} has no JSON form: JSON numbers must be finite")
    if value == 0:
        return "0"  # also -0.0
    if value < 0:
        return "-" + format_number(-value)
    # repr() gives the shortest digit string that round-trips, which is what ECMAScript requires.
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    n = len(whole) + int(exponent or "0")  # value = 0.<digits> * 10**n
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(e)}"


_encode_string: Final = json.encoder.encode_basestring


def _format_string(text: str) -> str:
    # The standard library's C encoder escapes exactly what RFC 8785 does (", \ and U+0000..U+001F: the
    # short forms where JSON has them, else \u00xx in lower case) and leaves every other character as it
    # is; a document's strings are formatted on every write, so this is the acknowledgement's hot path.
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(text[exc.start])
            raise CanonicalJsonError(
                f"string {text!r} holds a lone surrogate (U+{code:04X}): not valid Unicode"
            ) from None
    return _encode_string(text)


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _serialise(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJsonError(
                f"integer {value} is beyond ±(2**53 - 1), which JSON cannot hold exactly: use a string"
            )
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, str):
        out.append(_format_string(value))
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalJsonError(f"object key {key!r} is not a string")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_format_string(key))
            out.append(":")
            _serialise(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _serialise(item, out)
        out.append("]")
    else:
        raise CanonicalJsonError(f"{type(value).__name__} {value!r} has no JSON form")


def canonical_json(value: object) -> bytes:
    """``value`` (JSON types: dict, list/tuple, str, int, float, bool, None) as RFC 8785 canonical bytes."""
    out: list[str] = []
    _serialise(value, out)
    return "".join(out).encode("utf-8")


def _no_constant(name: str) -> object:
    raise MalformedDocument("", f"{name} is not JSON: numbers must be finite")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedDocument("", f"duplicate key {key!r}: a JSON object names each key once")
        result[key] = value
    return result


def parse_json(data: bytes) -> Any:
    """Parse UTF-8 JSON strictly: no NaN/Infinity, no duplicate keys."""
    return _parse_json(data, _Numbers())


def _parse_json(data: bytes, numbers: _Numbers, *, duplicates: bool = False) -> Any:
    """``duplicates`` lets a repeated key through (its last value kept): only for bytes that must then be
    canonical, which a repeated key never is."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedDocument("", f"not UTF-8 ({err}): a record document is UTF-8 JSON") from None
    try:
        return json.loads(
            text,
            object_pairs_hook=None if duplicates else _no_duplicates,
            parse_constant=_no_constant,
            parse_float=numbers.fraction,
            parse_int=numbers.integer,
        )
    except json.JSONDecodeError as err:
        raise MalformedDocument("", f"not JSON: {err}") from None


class _Numbers:
    """json.loads' number parsers, noting whether the text held a number that only canonical_json writes
    right: an integer beyond ±(2**53 - 1), or a fraction whose repr() is not ECMAScript's form. The two
    forms are one where repr() has no exponent and does not end in ".0" (format_number takes repr's digits
    and writes them positionally in that range, as repr does); 1e-07, 1e+16 and 2.0 are written otherwise."""

    def __init__(self) -> None:
        self.special = False

    def fraction(self, text: str) -> float:
        value = float(text)
        written = repr(value)
        if "e" in written or written.endswith(".0") or not math.isfinite(value):
            self.special = True
        return value

    def integer(self, text: str) -> int:
        value = int(text)
        if abs(value) > MAX_SAFE_INTEGER:
            self.special = True
        return value


_C_ENCODER: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: JsonValue, data: bytes, numbers: _Numbers) -> bool:
    """Whether ``data``, parsed into ``numbers``' notes, is ``canonical_json(value)``.

    Most documents are shown so by the standard library's C encoder, in a quarter of canonical_json's time
    (which counts when a history of thousands of documents is verified): when its output is ``data``
    exactly, ``data`` is ASCII and it held no special number, the two encoders agree. ASCII keys sort alike
    by code point and by UTF-16 code unit; strings are escaped by the very function canonical_json uses;
    integers, booleans and null are written alike; and equal bytes hold the same number tokens, which the
    parse saw. Anything else is decided by canonical_json itself."""
    if data.isascii() and not numbers.special:
        try:
            if _C_ENCODER.encode(value).encode() == data:
                return True
        except (TypeError, ValueError):
            pass  # not JSON: canonical_json says what is wrong
    return canonical_json(value) == data


# --- field checks ----------------------------------------------------------------------------------------


def _string(path: str, value: object, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidField(path, f"expected a string, got {type(value).__name__}")
    if not empty and not value:
        raise InvalidField(path, "must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidField(path, "holds a lone surrogate: not valid Unicode") from None
    return value


def _address(path: str, value: object) -> str:
    text = _string(path, value)
    if not _ADDRESS.fullmatch(text):
        raise InvalidField(path, f"{text!r} is not an address: expected '0x' and 40 hexadecimal digits")
    return text.lower()


def _digest(path: str, value: object) -> str:
    text = _string(path, value)
    algorithm, sep, hexdigits = text.partition(":")
    normal = f"{algorithm}:{hexdigits.lower()}" if sep else text
    if not _DIGEST.fullmatch(normal):
        raise InvalidField(
            path, f"{text!r} is not a digest: expected 'sha256:<64 hex digits>' or 'blake3:<64 hex digits>'"
        )
    return normal


def _cid(path: str, value: object) -> str:
    text = _string(path, value)
    try:
        CID.parse(text)
    except ValueError as err:
        raise InvalidField(path, f"{err}; give the CID as 'ipfs add' printed it, or omit it") from None
    return text


def _size(path: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise InvalidField(path, f"expected a byte count (an integer from 0 to 2**53 - 1), got {value!r}")
    return value


def _timestamp(path: str, value: object) -> str:
    text = _string(path, value)
    if not _TIMESTAMP.fullmatch(text):
        raise InvalidField(
            path,
            f"{text!r} is not an RFC 3339 UTC time: expected e.g. '2025-01-31T12:00:00Z' (see rfc3339())",
        )
    try:
        datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidField(path, f"{text!r} is not a valid time: {err}") from None
    return text


def _float(path: str, value: float) -> float:
    """A float whose canonical form reads back as the same number: finite, and not an integer beyond
    2**53 - 1 (JCS writes 1e16 as ``10000000000000000``, which reads back as an unsafe integer)."""
    if not math.isfinite(value):
        raise InvalidField(path, f"{value!r} is not a JSON number: record finite numbers only")
    if value.is_integer() and abs(value) > MAX_SAFE_INTEGER and abs(value) < 1e21:
        raise InvalidField(
            path,
            f"{value!r} is a whole number beyond 2**53 - 1, which canonical JSON writes as an integer that "
            "no parser holds exactly: record it in a larger unit (e.g. 1e16 bytes as 10 PB) or as a string",
        )
    return value


def _json(path: str, value: object) -> JsonValue:
    """A deep copy of ``value`` as plain JSON types (tuples become lists), or ``InvalidField``."""
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str):
            _string(path, value, empty=True)
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise InvalidField(path, f"integer {value} is beyond 2**53 - 1, which JSON cannot hold exactly")
        return int(value)
    if isinstance(value, float):
        return _float(path, value)
    if isinstance(value, Mapping):
        return _json_object(path, value)
    if isinstance(value, list | tuple):
        return [_json(f"{path}[{i}]", item) for i, item in enumerate(value)]
    raise InvalidField(
        path, f"{type(value).__name__} has no JSON form: use str, number, bool, None, list, dict"
    )


def _json_object(path: str, value: object) -> dict[str, JsonValue]:
    if not isinstance(value, Mapping):
        raise InvalidField(
            path, f"expected a JSON object (a dict with string keys), got {type(value).__name__}"
        )
    result: dict[str, JsonValue] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidField(path, f"key {key!r} is not a string")
        result[_string(f"{path} key", key, empty=True)] = _json(f"{path}.{key}", item)
    return result


def _metrics(path: str, value: object) -> dict[str, int | float]:
    if not isinstance(value, Mapping):
        raise InvalidField(path, f"expected an object of numbers, got {type(value).__name__}")
    result: dict[str, int | float] = {}
    for key, item in value.items():
        name = _string(f"{path} key", key)
        where = f"{path}.{name}"
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise InvalidField(where, f"a metric is a number, got {type(item).__name__} {item!r}")
        if isinstance(item, float):
            _float(where, item)
        elif abs(item) > MAX_SAFE_INTEGER:
            raise InvalidField(
                where, f"integer {item} is beyond 2**53 - 1, which JSON cannot hold exactly: use another unit"
            )
        result[name] = item
    return result


def _object(
    path: str, value: object, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidField(path, f"expected a JSON object, got {type(value).__name__}")
    required = tuple(required)
    known = set(required) | set(optional)
    prefix = f"{path}." if path else ""
    for key in value:
        if key not in known:
            raise UnknownField(f"{prefix}{key}", f"not a field of {SCHEMA}: remove it")
    for key in required:
        if key not in value:
            raise MissingField(f"{prefix}{key}", "required: add it")
    for key in optional:
        if key in value and value[key] is None:
            raise InvalidField(f"{prefix}{key}", "null is not allowed: omit the field instead")
    return value


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


# --- the document ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """The organisation that did the work: its name and its (lower-case) address."""

    name: str
    address: str

    def __post_init__(self) -> None:
        _set(self, "name", _string("actor.name", self.name))
        _set(self, "address", _address("actor.address", self.address))

    def to_dict(self) -> dict[str, JsonValue]:
        return {"name": self.name, "address": self.address}

    @classmethod
    def from_dict(cls, value: object, path: str = "actor") -> Actor:
        obj = _object(path, value, ("name", "address"))
        try:
            return cls(obj["name"], obj["address"])
        except RecordDocumentError as err:
            raise err.relocated("actor", path) from None


@dataclass(frozen=True)
class Artifact:
    """An input or output: by digest always; by CID when uploaded; its size; its asset if it is one."""

    name: str
    kind: str
    digest: str
    cid: str | None = None
    size: int | None = None
    asset: str | None = None

    def __post_init__(self) -> None:
        _set(self, "name", _string("artifact.name", self.name))
        _set(self, "kind", _string("artifact.kind", self.kind))
        _set(self, "digest", _digest("artifact.digest", self.digest))
        if self.cid is not None:
            _set(self, "cid", _cid("artifact.cid", self.cid))
        if self.size is not None:
            _set(self, "size", _size("artifact.size", self.size))
        if self.asset is not None:
            _set(self, "asset", _address("artifact.asset", self.asset))

    def to_dict(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {"name": self.name, "kind": self.kind, "digest": self.digest}
        if self.cid is not None:
            out["cid"] = self.cid
        if self.size is not None:
            out["size"] = self.size
        if self.asset is not None:
            out["asset"] = self.asset
        return out

    @classmethod
    def from_dict(cls, value: object, path: str = "artifact") -> Artifact:
        obj = _object(path, value, ("name", "kind", "digest"), ("cid", "size", "asset"))
        try:
            return cls(
                obj["name"], obj["kind"], obj["digest"], obj.get("cid"), obj.get("size"), obj.get("asset")
            )
        except RecordDocumentError as err:
            raise err.relocated("artifact", path) from None


@dataclass(frozen=True)
class Environment:
    """Where the work ran: the Python version, the packages the user named, the code revision if known."""

    python: str
    packages: Mapping[str, str] = field(default_factory=dict)
    code_revision: str | None = None

    def __post_init__(self) -> None:
        _set(self, "python", _string("environment.python", self.python))
        if not isinstance(self.packages, Mapping):
            raise InvalidField("environment.packages", "expected an object of package name to version")
        packages = {
            _string("environment.packages key", name): _string(f"environment.packages.{name}", ver)
            for name, ver in self.packages.items()
        }
        _set(self, "packages", packages)
        if self.code_revision is not None:
            _set(self, "code_revision", _string("environment.code_revision", self.code_revision))

    def to_dict(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {"python": self.python, "packages": dict(self.packages)}
        if self.code_revision is not None:
            out["code_revision"] = self.code_revision
        return out

    @classmethod
    def from_dict(cls, value: object) -> Environment:
        obj = _object("environment", value, ("python", "packages"), ("code_revision",))
        return cls(obj["python"], obj["packages"], obj.get("code_revision"))


_FIELDS: Final = (
    "schema",
    "asset",
    "activity",
    "actor",
    "inputs",
    "outputs",
    "parameters",
    "metrics",
    "environment",
    "started_at",
    "ended_at",
)


@dataclass(frozen=True)
class RecordDocument:
    """One activity on one asset, as recorded: ``digest()`` is the ``recordDigest`` on chain."""

    asset: str
    activity: str
    actor: Actor
    environment: Environment
    started_at: str
    ended_at: str
    inputs: tuple[Artifact, ...] = ()
    outputs: tuple[Artifact, ...] = ()
    parameters: Mapping[str, JsonValue] = field(default_factory=dict)
    metrics: Mapping[str, int | float] = field(default_factory=dict)
    notes: str | None = None
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        if self.schema != SCHEMA:
            raise UnsupportedSchema(
                "schema", f"{self.schema!r} is not supported: this version of proml reads {SCHEMA!r} only"
            )
        _set(self, "asset", _address("asset", self.asset))
        if not isinstance(self.activity, str) or self.activity not in ACTIVITIES:
            raise InvalidField(
                "activity", f"{self.activity!r} is not an activity: use one of {', '.join(ACTIVITIES)}"
            )
        if not isinstance(self.actor, Actor):
            raise InvalidField("actor", "expected an Actor(name, address)")
        if not isinstance(self.environment, Environment):
            raise InvalidField("environment", "expected an Environment (see environment_snapshot())")
        for name in ("inputs", "outputs"):
            items = getattr(self, name)
            if isinstance(items, str | bytes) or not isinstance(items, Iterable):
                raise InvalidField(name, "expected a list of Artifact")
            items = tuple(items)
            for i, item in enumerate(items):
                if not isinstance(item, Artifact):
                    raise InvalidField(f"{name}[{i}]", f"expected an Artifact, got {type(item).__name__}")
            _set(self, name, items)
        _set(self, "parameters", _json_object("parameters", self.parameters))
        _set(self, "metrics", _metrics("metrics", self.metrics))
        _set(self, "started_at", _timestamp("started_at", self.started_at))
        _set(self, "ended_at", _timestamp("ended_at", self.ended_at))
        if datetime.fromisoformat(self.ended_at) < datetime.fromisoformat(self.started_at):
            raise InvalidField("ended_at", f"{self.ended_at} is before started_at {self.started_at}")
        if self.notes is not None:
            _set(self, "notes", _string("notes", self.notes, empty=True))

    def to_dict(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {
            "schema": self.schema,
            "asset": self.asset,
            "activity": self.activity,
            "actor": self.actor.to_dict(),
            "inputs": [a.to_dict() for a in self.inputs],
            "outputs": [a.to_dict() for a in self.outputs],
            "parameters": dict(self.parameters),
            "metrics": dict(self.metrics),
            "environment": self.environment.to_dict(),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }
        if self.notes is not None:
            out["notes"] = self.notes
        return out

    def to_json_bytes(self) -> bytes:
        """The canonical (RFC 8785) bytes: what is stored on IPFS and digested."""
        return canonical_json(self.to_dict())

    def digest(self) -> bytes:
        """SHA-256 of ``to_json_bytes()``: 32 bytes, the ``recordDigest`` on chain."""
        return hashlib.sha256(self.to_json_bytes()).digest()

    def storable_bytes(self) -> bytes:
        """The canonical bytes, once they are known to pass exactly what verification and replication
        apply to them: at most ``MAX_DOCUMENT_BYTES``, and parsed back (``require_canonical``) into the
        same bytes. A document that fails here would be on chain and never verifiable."""
        data = self.to_json_bytes()
        if len(data) > MAX_DOCUMENT_BYTES:
            where = _largest_field("", self.to_dict())
            raise DocumentTooLarge(
                where,
                f"the record document would be {len(data)} bytes, over the {MAX_DOCUMENT_BYTES} a node "
                f"verifies; this field takes most of it: upload large content as a payload and record its "
                "digest instead",
            )
        RecordDocument.from_json_bytes(data, require_canonical=True)
        return data

    @classmethod
    def from_dict(cls, value: object) -> RecordDocument:
        obj = _object("", value, _FIELDS, ("notes",))
        if obj["schema"] != SCHEMA:
            raise UnsupportedSchema(
                "schema", f"{obj['schema']!r} is not supported: this version of proml reads {SCHEMA!r} only"
            )
        artifacts: dict[str, list[Artifact]] = {}
        for name in ("inputs", "outputs"):
            if not isinstance(obj[name], list):
                raise InvalidField(name, f"expected a list, got {type(obj[name]).__name__}")
            artifacts[name] = [Artifact.from_dict(a, f"{name}[{i}]") for i, a in enumerate(obj[name])]
        if not isinstance(obj["parameters"], dict):
            raise InvalidField(
                "parameters", f"expected a JSON object, got {type(obj['parameters']).__name__}"
            )
        return cls(
            asset=obj["asset"],
            activity=obj["activity"],
            actor=Actor.from_dict(obj["actor"]),
            environment=Environment.from_dict(obj["environment"]),
            started_at=obj["started_at"],
            ended_at=obj["ended_at"],
            inputs=tuple(artifacts["inputs"]),
            outputs=tuple(artifacts["outputs"]),
            parameters=obj["parameters"],
            metrics=obj["metrics"],
            notes=obj.get("notes"),
        )

    @classmethod
    def from_json_bytes(cls, data: bytes, *, require_canonical: bool = False) -> RecordDocument:
        """Parse and validate a document. With ``require_canonical``, also insist that ``data`` is the
        canonical form (as it must be when it was fetched by its on-chain digest)."""
        if require_canonical:
            # Most documents are canonical: parsed without the duplicate-key hook, which a repeated key
            # cannot slip past (the canonical bytes would not repeat it). Any failure is decided again,
            # strictly, so that the error names what is wrong.
            numbers = _Numbers()
            try:
                document = cls.from_dict(_parse_json(data, numbers, duplicates=True))
                if _canonical(document.to_dict(), bytes(data), numbers):
                    return document
            except RecordDocumentError:
                pass
        numbers = _Numbers()
        document = cls.from_dict(_parse_json(data, numbers))
        if require_canonical and not _canonical(document.to_dict(), bytes(data), numbers):
            raise NonCanonicalDocument(
                "",
                "the bytes are not RFC 8785 canonical JSON: re-serialise with RecordDocument.to_json_bytes()",
            )
        return document


# --- helpers ---------------------------------------------------------------------------------------------


def _largest_field(path: str, value: JsonValue) -> str:
    """The path of the field that takes most of ``value``'s canonical bytes, descending while one child
    holds most of its parent."""
    if isinstance(value, dict):
        children = [(f"{path}.{k}" if path else k, v) for k, v in value.items()]
    elif isinstance(value, list):
        children = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        return path
    if not children:
        return path
    sizes = [(len(canonical_json(v)), p, v) for p, v in children]
    size, child, item = max(sizes, key=lambda entry: entry[0])
    if path and size * 2 < len(canonical_json(value)):
        return path
    return _largest_field(child, item)


def rfc3339(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as an RFC 3339 UTC timestamp with milliseconds, e.g. for ``started_at``."""
    moment = datetime.now(UTC) if moment is None else moment
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no time zone: pass an aware one (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def environment_snapshot(
    packages: Iterable[str] = (), *, code_revision: str | None = None, skip_missing: bool = False
) -> Environment:
    """The Python version and the installed versions of exactly the ``packages`` named: nothing else.

    A package that is not installed raises ``PackageNotInstalled``, unless ``skip_missing``.
    """
    if isinstance(packages, str):
        packages = (packages,)
    found: dict[str, str] = {}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            if not skip_missing:
                raise PackageNotInstalled(
                    f"environment.packages.{name}",
                    "is not installed here: install it, remove it from the list, or pass skip_missing=True",
                ) from None
    return Environment(python=platform.python_version(), packages=found, code_revision=code_revision)


__all__ = [
    "ACTIVITIES",
    "MAX_DOCUMENT_BYTES",
    "SCHEMA",
    "Actor",
    "Artifact",
    "CanonicalJsonError",
    "DocumentTooLarge",
    "Environment",
    "InvalidField",
    "JsonValue",
    "MalformedDocument",
    "MissingField",
    "NonCanonicalDocument",
    "PackageNotInstalled",
    "RecordDocument",
    "RecordDocumentError",
    "UnknownField",
    "UnsupportedSchema",
    "canonical_json",
    "environment_snapshot",
    "format_number",
    "parse_json",
    "rfc3339",
]
