"""The record document: RFC 8785 canonical JSON, round trips, the digest, validation, the JSON Schema."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import struct
from pathlib import Path
from typing import Any

import pytest

from proml.core.records import (
    ACTIVITIES,
    MAX_DOCUMENT_BYTES,
    Actor,
    Artifact,
    CanonicalJsonError,
    DocumentTooLarge,
    Environment,
    InvalidField,
    MalformedDocument,
    MissingField,
    NonCanonicalDocument,
    PackageNotInstalled,
    RecordDocument,
    RecordDocumentError,
    UnknownField,
    UnsupportedSchema,
    canonical_json,
    environment_snapshot,
    format_number,
    rfc3339,
)
from proml.core.workflow import Activity

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "record-schema.json"
ASSET = "0x" + "ab" * 20
ORG = "0x" + "12" * 20
SHA = "sha256:" + "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
HELLO_CID = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"

# RFC 8785, Appendix B: IEEE-754 bit patterns and their canonical text.
NUMBER_VECTORS = {
    0x0000000000000000: "0",
    0x8000000000000000: "0",
    0x0000000000000001: "5e-324",
    0x8000000000000001: "-5e-324",
    0x7FEFFFFFFFFFFFFF: "1.7976931348623157e+308",
    0xFFEFFFFFFFFFFFFF: "-1.7976931348623157e+308",
    0x4340000000000000: "9007199254740992",
    0xC340000000000000: "-9007199254740992",
    0x4430000000000000: "295147905179352830000",
    0x44B52D02C7E14AF5: "9.999999999999997e+22",
    0x44B52D02C7E14AF6: "1e+23",
    0x44B52D02C7E14AF7: "1.0000000000000001e+23",
    0x444B1AE4D6E2EF4E: "999999999999999700000",
    0x444B1AE4D6E2EF4F: "999999999999999900000",
    0x444B1AE4D6E2EF50: "1e+21",
    0x3EB0C6F7A0B5ED8C: "9.999999999999997e-7",
    0x3EB0C6F7A0B5ED8D: "0.000001",
    0x41B3DE4355555553: "333333333.3333332",
    0x41B3DE4355555554: "333333333.33333325",
    0x41B3DE4355555555: "333333333.3333333",
    0x41B3DE4355555556: "333333333.3333334",
    0x41B3DE4355555557: "333333333.33333343",
    0xBECBF647612F3696: "-0.0000033333333333333333",
    0x43143FF3C1CB0959: "1424953923781206.2",
}


def make_document(**changes: Any) -> RecordDocument:
    fields: dict[str, Any] = {
        "asset": ASSET,
        "activity": "train",
        "actor": Actor("Org C", ORG),
        "environment": Environment("3.11.7", {"scikit-learn": "1.5.0"}, "git:abc123"),
        "started_at": "2025-01-31T12:00:00Z",
        "ended_at": "2025-01-31T12:30:00.250Z",
        "inputs": [Artifact("train", "dataset", SHA, HELLO_CID, 6, "0x" + "cd" * 20)],
        "outputs": [Artifact("weights", "file", SHA)],
        "parameters": {"C": 1.0, "kernel": "rbf", "layers": [64, 32], "extra": {"seed": 7, "warm": None}},
        "metrics": {"train_accuracy": 0.97, "epochs": 10},
        "notes": "first run",
    }
    fields.update(changes)
    return RecordDocument(**fields)


# --- RFC 8785 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bits", "expected"), list(NUMBER_VECTORS.items()))
def test_number_vectors(bits: int, expected: str) -> None:
    value = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    assert format_number(value) == expected
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5, "1.5"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-7, "1e-7"),
        (123.0, "123"),
        (-2.5e-8, "-2.5e-8"),
        (5e-6, "0.000005"),
    ],
)
def test_float_forms(value: float, expected: str) -> None:
    assert format_number(value) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_rejected(value: float) -> None:
    with pytest.raises(CanonicalJsonError, match="finite"):
        canonical_json({"x": value})


def test_integers() -> None:
    assert (
        canonical_json([0, -1, 42, 2**53 - 1, -(2**53 - 1)])
        == b"[0,-1,42,9007199254740991,-9007199254740991]"
    )
    with pytest.raises(CanonicalJsonError, match="string"):
        canonical_json(2**53)


def test_literals_and_nesting() -> None:
    assert canonical_json({"b": [True, False, None, {}], "a": []}) == b'{"a":[],"b":[true,false,null,{}]}'


def test_key_order_is_by_utf16_code_units() -> None:
    # RFC 8785, section 3.2.3: the emoji (a surrogate pair, 0xD83D...) sorts before U+FB33.
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    out = json.loads(canonical_json(dict.fromkeys(keys, 0)))
    assert list(out) == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    # Code-point order would put the emoji last.
    assert sorted(keys) != list(out)


def test_string_escaping() -> None:
    # RFC 8785, section 3.2.2.2 example.
    value = "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"
    assert canonical_json(value) == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()
    assert canonical_json("\b\f\t\r\x00\x1f\x7f") == b'"\\b\\f\\t\\r\\u0000\\u001f\x7f"'
    with pytest.raises(CanonicalJsonError, match="surrogate"):
        canonical_json("\ud800")


def test_every_character_is_escaped_as_rfc8785_says() -> None:
    # Section 3.2.2.2: ", \\ and U+0000..U+001F escaped (the short forms where JSON has them, else \\u00xx
    # in lower case), every other character as it is; lone surrogates are not Unicode.
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    for code in range(0x110000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            with pytest.raises(CanonicalJsonError, match="surrogate"):
                canonical_json("a" + char)
            continue
        expected = short.get(char) or (f"\\u{code:04x}" if code < 0x20 else char)
        assert canonical_json(char) == f'"{expected}"'.encode(), hex(code)


def test_rfc8785_full_example() -> None:
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode()


# --- the document ---------------------------------------------------------------------------------------


def test_round_trip_is_stable() -> None:
    document = make_document()
    data = document.to_json_bytes()
    again = RecordDocument.from_json_bytes(data, require_canonical=True)
    assert again == document
    assert again.to_json_bytes() == data
    assert again.digest() == document.digest() == hashlib.sha256(data).digest()
    assert len(document.digest()) == 32


def test_minimal_digest_only_document_round_trips() -> None:
    document = RecordDocument(
        asset=ASSET,
        activity="select_data",
        actor=Actor("Org C", ORG),
        environment=Environment("3.11.7"),
        started_at="2025-01-31T12:00:00Z",
        ended_at="2025-01-31T12:00:00Z",
        outputs=(Artifact("weights", "file", SHA),),
    )
    data = document.to_json_bytes()
    parsed = json.loads(data)
    assert (
        "cid" not in parsed["outputs"][0]
        and "notes" not in parsed
        and "code_revision" not in parsed["environment"]
    )
    assert RecordDocument.from_json_bytes(data) == document


def test_document_layout() -> None:
    data = make_document().to_json_bytes()
    assert data.startswith(b'{"activity":"train","actor":{"address":"0x1212')
    assert json.loads(data)["schema"] == "proml.record/1"
    assert b" " not in data.replace(b"Org C", b"").replace(b"first run", b"")


def test_digest_does_not_depend_on_key_order() -> None:
    params = {"z": 1, "a": {"y": [1, 2], "b": "x"}, "m": 0.5}
    reordered = {"m": 0.5, "a": {"b": "x", "y": (1, 2)}, "z": 1}
    first = make_document(parameters=params, metrics={"b": 1.0, "a": 2})
    second = make_document(parameters=reordered, metrics={"a": 2, "b": 1})
    assert first.to_json_bytes() == second.to_json_bytes()
    assert first.digest() == second.digest()
    assert first == second


def test_parsing_key_order_and_whitespace_do_not_matter_but_canonical_check_does() -> None:
    document = make_document()
    pretty = json.dumps(json.loads(document.to_json_bytes()), indent=2, sort_keys=False).encode()
    assert RecordDocument.from_json_bytes(pretty) == document
    with pytest.raises(NonCanonicalDocument, match="canonical"):
        RecordDocument.from_json_bytes(pretty, require_canonical=True)


def _python_json(data: bytes) -> bytes:
    """What the standard library's encoder writes for `data`: a canonical check that trusted it alone would
    take every input where this equals the input."""
    return json.dumps(json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# Non-canonical bytes that Python's own encoder writes exactly so: an exponent with a zero ECMAScript does
# not write, keys in code point order where UTF-16 order differs, and an integer JSON cannot hold exactly.
_FOOLS_THE_C_ENCODER = [
    ({"lr": 1e-7}, b'"lr":1e-7', b'"lr":1e-07'),
    (
        {"\ue000": 1, "\U0001f600": 2},
        '"\U0001f600":2,"\ue000":1'.encode(),
        '"\ue000":1,"\U0001f600":2'.encode(),
    ),
    ({"n": 1}, b'"n":1', b'"n":9007199254740993'),
    ({"lr": 2.0}, b'"lr":2', b'"lr":2.0'),
]


@pytest.mark.parametrize(("parameters", "canonical", "variant"), _FOOLS_THE_C_ENCODER)
def test_the_canonical_check_is_not_fooled_where_python_json_writes_the_same_bytes(
    parameters: dict[str, Any], canonical: bytes, variant: bytes
) -> None:
    data = make_document(parameters=parameters).to_json_bytes()
    assert RecordDocument.from_json_bytes(data, require_canonical=True).to_json_bytes() == data
    assert canonical in data
    forged = data.replace(canonical, variant)
    assert _python_json(forged) == forged  # the fast path alone would take it
    with pytest.raises((RecordDocumentError, CanonicalJsonError)):
        RecordDocument.from_json_bytes(forged, require_canonical=True)


def test_a_repeated_key_is_named_also_where_the_document_must_be_canonical() -> None:
    data = make_document().to_json_bytes()
    forged = data.replace(b'"asset":', b'"asset":"0x' + b"12" * 20 + b'","asset":', 1)
    with pytest.raises(MalformedDocument, match="duplicate key 'asset'"):
        RecordDocument.from_json_bytes(forged, require_canonical=True)


def test_canonical_documents_with_fractions_and_non_ascii_text_are_taken() -> None:
    document = make_document(
        actor=Actor("Organisation Ü", ORG),
        parameters={"\U0001f600": "ÿ", "\ue000": 0.1, "big": 2**53 - 1},
        notes="naïve \u2028 résumé",
    )
    data = document.to_json_bytes()
    assert RecordDocument.from_json_bytes(data, require_canonical=True) == document


def test_addresses_and_digests_are_normalised_to_lower_case() -> None:
    upper = make_document(asset="0x" + "AB" * 20, actor=Actor("Org C", "0x" + "Ee" * 20))
    assert upper.asset == ASSET and upper.actor.address == "0x" + "ee" * 20
    assert Artifact("x", "file", SHA.upper().replace("SHA256", "sha256")).digest == SHA


def test_every_activity_name_is_accepted() -> None:
    assert tuple(a.name.lower() for a in Activity) == ACTIVITIES
    for activity in ACTIVITIES:
        assert make_document(activity=activity).activity == activity


# --- validation -----------------------------------------------------------------------------------------


def _parse_with(path: list[str | int], value: Any) -> None:
    obj = json.loads(make_document().to_json_bytes())
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    RecordDocument.from_json_bytes(json.dumps(obj).encode())


@pytest.mark.parametrize(
    ("path", "value", "error", "field", "message"),
    [
        (["asset"], "0x1234", InvalidField, "asset", "40 hexadecimal"),
        (["actor", "address"], "not-an-address", InvalidField, "actor.address", "not an address"),
        (["inputs", 0, "asset"], "0x" + "g" * 40, InvalidField, "inputs[0].asset", "not an address"),
        (["activity"], "fine_tune", InvalidField, "activity", "use one of register"),
        (["activity"], "selectData", InvalidField, "activity", "select_data"),
        (["outputs", 0, "digest"], "md5:abcd", InvalidField, "outputs[0].digest", "sha256:<64 hex"),
        (["outputs", 0, "digest"], "sha256:" + "0" * 63, InvalidField, "outputs[0].digest", "not a digest"),
        (["inputs", 0, "cid"], "Qmnotacid", InvalidField, "inputs[0].cid", "invalid CID"),
        (["inputs", 0, "cid"], None, InvalidField, "inputs[0].cid", "omit the field"),
        (["inputs", 0, "size"], -1, InvalidField, "inputs[0].size", "byte count"),
        (["parameters"], [1, 2], InvalidField, "parameters", "JSON object"),
        (["parameters"], "C=1", InvalidField, "parameters", "JSON object"),
        (["metrics"], {"acc": "high"}, InvalidField, "metrics.acc", "number"),
        (["metrics"], {"acc": True}, InvalidField, "metrics.acc", "number"),
        (["started_at"], "2025-01-31 12:00:00", InvalidField, "started_at", "RFC 3339"),
        (["ended_at"], "2025-01-31T12:00:00+02:00", InvalidField, "ended_at", "UTC"),
        (["ended_at"], "2025-01-31T11:00:00Z", InvalidField, "ended_at", "before started_at"),
        (["environment", "packages"], {"numpy": 2}, InvalidField, "environment.packages.numpy", "string"),
        (["schema"], "proml.record/2", UnsupportedSchema, "schema", "proml.record/1"),
        (["surprise"], 1, UnknownField, "surprise", "remove it"),
        (["actor", "email"], "x@y", UnknownField, "actor.email", "remove it"),
    ],
)
def test_bad_fields_are_named(
    path: list[str | int], value: Any, error: type[RecordDocumentError], field: str, message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        _parse_with(path, value)
    assert caught.value.field == field
    assert str(caught.value).startswith(field)
    assert isinstance(caught.value, RecordDocumentError) and isinstance(caught.value, ValueError)


def test_missing_field_is_named() -> None:
    obj = json.loads(make_document().to_json_bytes())
    del obj["environment"]
    with pytest.raises(MissingField, match="environment: required") as caught:
        RecordDocument.from_json_bytes(json.dumps(obj).encode())
    assert caught.value.field == "environment"


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_metric_is_rejected_when_constructing(value: float) -> None:
    with pytest.raises(InvalidField, match="finite") as caught:
        make_document(metrics={"loss": value})
    assert caught.value.field == "metrics.loss"


def test_nan_in_json_bytes_is_rejected() -> None:
    data = make_document().to_json_bytes().replace(b'"epochs":10', b'"epochs":NaN')
    with pytest.raises(MalformedDocument, match="NaN"):
        RecordDocument.from_json_bytes(data)


def test_bad_values_when_constructing() -> None:
    with pytest.raises(InvalidField, match="fine_tune"):
        make_document(activity="fine_tune")
    with pytest.raises(InvalidField) as caught:
        make_document(parameters={"f": object()})
    assert caught.value.field == "parameters.f"
    with pytest.raises(InvalidField, match="2\\*\\*53"):
        make_document(parameters={"big": 2**60})
    with pytest.raises(InvalidField, match="not an address"):
        Actor("Org", "0x12")
    with pytest.raises(InvalidField, match="sha256"):
        Artifact("w", "file", "deadbeef")


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe", b"{", b"[]", b'{"schema":"proml.record/1","schema":"proml.record/1"}'],
)
def test_malformed_bytes(data: bytes) -> None:
    with pytest.raises(RecordDocumentError):
        RecordDocument.from_json_bytes(data)


def test_documents_are_frozen() -> None:
    document = make_document()
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.activity = "deploy"  # type: ignore[misc]


# --- helpers --------------------------------------------------------------------------------------------


def test_environment_snapshot_records_only_what_was_asked() -> None:
    env = environment_snapshot(["pytest"], code_revision="abc")
    assert env.python == platform.python_version()
    assert set(env.packages) == {"pytest"} and env.packages["pytest"] == pytest.__version__
    assert env.code_revision == "abc"
    assert environment_snapshot().packages == {}
    with pytest.raises(PackageNotInstalled, match="not installed"):
        environment_snapshot(["no-such-package-proml-test"])
    assert environment_snapshot(["no-such-package-proml-test"], skip_missing=True).packages == {}


def test_rfc3339() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    moment = datetime(2025, 1, 31, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2025-01-31T12:00:00.123Z"
    assert rfc3339().endswith("Z") and make_document(started_at=rfc3339(), ended_at=rfc3339())
    assert rfc3339(datetime(2025, 1, 1, tzinfo=UTC)) == "2025-01-01T00:00:00.000Z"
    with pytest.raises(ValueError, match="naive"):
        rfc3339(datetime(2025, 1, 1))


# --- the published JSON Schema --------------------------------------------------------------------------


def test_json_schema_matches_the_documents() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["activity"]["enum"] == list(ACTIVITIES)
    produced = json.loads(make_document().to_json_bytes())
    broken = dict(produced, activity="fine_tune")
    del broken["actor"]
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    if jsonschema is not None:
        validator = jsonschema.Draft202012Validator(schema)
        validator.check_schema(schema)
        assert list(validator.iter_errors(produced)) == []
        assert len(list(validator.iter_errors(broken))) >= 2
        return
    # Without jsonschema: the schema's structure must still match the dataclasses exactly.
    checks = [
        (schema, RecordDocument),
        (schema["properties"]["actor"], Actor),
        (schema["$defs"]["artifact"], Artifact),
        (schema["properties"]["environment"], Environment),
    ]
    for node, cls in checks:
        fields = dataclasses.fields(cls)
        required = {f.name for f in fields if f.default is dataclasses.MISSING and f.name != "schema"}
        if cls is RecordDocument:  # always written, even when empty
            required |= {"schema", "inputs", "outputs", "parameters", "metrics"}
        if cls is Environment:
            required |= {"packages"}
        assert set(node["required"]) == required, cls.__name__
        assert set(node["properties"]) == {f.name for f in fields}, cls.__name__
        assert node["additionalProperties"] is False
    assert set(produced) <= set(schema["properties"])
    assert set(schema["required"]) - set(broken)


# --- what is stored is verifiable ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1e16, -1e16, 2.0**53, 9.9e20])
def test_a_whole_float_beyond_2_53_is_refused_where_it_stands(value: float) -> None:
    # JCS writes these as integer literals, which read back as integers beyond 2**53 - 1: refused on
    # parsing, so a node that stored one could never verify it.
    with pytest.raises(InvalidField, match="2\\*\\*53") as metric:
        make_document(metrics={"loss": value})
    assert metric.value.field == "metrics.loss"
    with pytest.raises(InvalidField) as parameter:
        make_document(parameters={"deep": {"rate": [value]}})
    assert parameter.value.field == "parameters.deep.rate[0]"


@pytest.mark.parametrize("value", [1e21, -1.5e300, 0.1, -0.0, 9007199254740991.0, 1.5e-300])
def test_floats_whose_canonical_form_reads_back_are_kept(value: float) -> None:
    # From 1e21 on, JCS writes an exponent, which reads back as a float; 2**53 - 1 is a safe integer.
    document = make_document(metrics={"x": value})
    assert RecordDocument.from_json_bytes(document.storable_bytes(), require_canonical=True) == document


def test_storable_bytes_are_the_canonical_bytes() -> None:
    document = make_document()
    assert document.storable_bytes() == document.to_json_bytes()


def test_a_document_over_the_limit_verification_reads_is_refused_naming_its_largest_field() -> None:
    big = "x" * MAX_DOCUMENT_BYTES
    document = make_document(parameters={"small": 1, "name": big})  # constructs: each field is valid
    with pytest.raises(DocumentTooLarge, match=str(MAX_DOCUMENT_BYTES)) as caught:
        document.storable_bytes()
    assert caught.value.field == "parameters.name"
    with pytest.raises(DocumentTooLarge) as notes:
        make_document(notes=big).storable_bytes()
    assert notes.value.field == "notes"
    # At the limit exactly, it is stored.
    fitting = make_document(notes="")
    room = MAX_DOCUMENT_BYTES - len(fitting.to_json_bytes())
    assert len(make_document(notes="y" * room).storable_bytes()) == MAX_DOCUMENT_BYTES
