"""How deeply a JSON text nests, found without parsing it.

Python's JSON parser recurses once per level, and this process runs with the recursion limit that
eth-account raises to 100,000: a body nested 90,000 deep overflows the C stack and kills the process
before any validation runs. The guard measures the depth first and refuses a deep body with a 400.
"""

from __future__ import annotations

import re
from itertools import accumulate

# A JSON string, escapes included (possessive: no backtracking on a long string). Outside strings, the
# only bytes that change the depth are the brackets.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nesting_depth(text: bytes) -> int:
    """The deepest nesting of arrays and objects in `text` (0 for a scalar).

    For text that is not JSON the answer is an upper bound of what a parser would reach before it fails:
    strings before the first unterminated one are skipped exactly, every bracket after it is counted."""
    brackets = _STRING.sub(b"", text).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0))
