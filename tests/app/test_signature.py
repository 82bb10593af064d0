"""ce-signature: table-driven over keys and header shapes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from chat import signature

K1, K2, OTHER = "key-one-0123456789", "key-two-0123456789", "attacker-key"


def digest(key: str, connection_id: str = "c1") -> str:
    return hmac.new(key.encode(), connection_id.encode(), hashlib.sha256).hexdigest()


def test_sign_matches_the_documented_formula() -> None:
    assert signature.sign(K1, "c1") == "sha256=" + digest(K1)
    assert signature.header([K1, K2], "c1") == f"sha256={digest(K1)},sha256={digest(K2)}"


@pytest.mark.parametrize(
    ("value", "keys", "ok"),
    [
        (f"sha256={digest(K1)}", (K1,), True),
        (f"sha256={digest(K1)},sha256={digest(K2)}", (K1,), True),
        (f"sha256={digest(K1)},sha256={digest(K2)}", (K2,), True),
        (f"sha256={digest(K2)}", (K1, K2), True),  # secondary key only
        (f" sha256={digest(K1).upper()} ", (K1,), True),  # case and spaces are tolerated
        (f"sha256={digest(OTHER)}", (K1, K2), False),  # forged with another key
        (f"sha256={digest(K1, 'c2')}", (K1,), False),  # signed for another connection
        (f"sha256={digest(K1)},sha256=zz", (K1,), False),  # one malformed entry spoils it
        (f"sha1={digest(K1)}", (K1,), False),
        (f"sha256={digest(K1)[:-2]}", (K1,), False),
        (digest(K1), (K1,), False),
        ("", (K1,), False),
        (None, (K1,), False),
        (f"sha256={digest(K1)}", (), False),  # no key, no trust
    ],
)
def test_verify(value: str | None, keys: tuple[str, ...], ok: bool) -> None:
    assert signature.verify(value, keys, "c1") is ok
