"""Content addressing shared by the node and the SDK: digests (SHA-256, BLAKE3) and IPFS CIDs.

Nothing here needs a network, a daemon or the node's server stack, so the SDK can import it.
"""

from proml.core.content.cid import CID, CidResult, UnixfsBuilder, cid_of_bytes, cid_of_file, cid_of_stream
from proml.core.content.digest import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    ContentDigest,
    DigestAlgorithm,
    Hasher,
    UnknownAlgorithm,
    digest_bytes,
    digest_file,
    digest_stream,
)
from proml.core.content.fingerprint import Fingerprint, Fingerprinter, fingerprint_file

__all__ = [
    "ALGORITHMS",
    "CID",
    "DEFAULT_ALGORITHM",
    "CidResult",
    "ContentDigest",
    "DigestAlgorithm",
    "Fingerprint",
    "Fingerprinter",
    "Hasher",
    "UnixfsBuilder",
    "UnknownAlgorithm",
    "cid_of_bytes",
    "cid_of_file",
    "cid_of_stream",
    "digest_bytes",
    "digest_file",
    "digest_stream",
    "fingerprint_file",
]
