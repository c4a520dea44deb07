"""Link tokens: the portal's signer is a faster itsdangerous, never a different one."""

from __future__ import annotations

import zlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from portal import tokens

IDS = st.integers(min_value=0, max_value=2**31 - 1)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # app: read only
@given(object_id=IDS, version=IDS, purpose=st.sampled_from([tokens.OVERVIEW, tokens.SHARE]))
@example(object_id=1111111111, version=1111111111, purpose=tokens.OVERVIEW)  # a payload zlib shortens
def test_tokens_are_itsdangerous_tokens(app, object_id, version, purpose):
    """Byte for byte what itsdangerous's own URL-safe serializer makes, so every link ever sent stays valid."""
    plain = URLSafeSerializer(app.config["SECRET_KEY"], salt=f"portal.{purpose}")
    with app.app_context():
        token = tokens.make_token(purpose, object_id, version)
        assert token == plain.dumps([object_id, version])
        assert tokens.token_maker(purpose)(object_id, version) == token
        assert tokens.read_token(purpose, plain.dumps([object_id, version])) == (object_id, version)


@settings(max_examples=500, deadline=None)
@given(payload=st.binary(max_size=tokens._SURELY_INCOMPRESSIBLE_MAX) | st.from_regex(rb"\A\[\d{1,10},\d{1,10}\]\Z"))
@example(payload=b"[1111111111,1]")
@example(payload=b"abcabcabcabcabcabcabcabc")
def test_a_payload_left_uncompressed_is_one_zlib_cannot_shorten(payload):
    """Where the signer skips zlib, itsdangerous's own rule would not have used zlib's result."""
    if len(payload) <= tokens._SURELY_INCOMPRESSIBLE_MAX and not tokens._has_repeated_triple(payload):
        assert not compressed_by_itsdangerous(payload)


def compressed_by_itsdangerous(payload: bytes) -> bool:
    return len(zlib.compress(payload)) < len(payload) - 1


def de_bruijn(letters: bytes) -> bytes:
    """Every run of three of the letters exactly once (and the first two again to close the cycle)."""
    k, sequence, a = len(letters), [], [0] * len(letters) * 3

    def extend(t: int, p: int) -> None:
        if t > 3:
            if 3 % p == 0:
                sequence.extend(a[1 : p + 1])
            return
        a[t] = a[t - p]
        extend(t + 1, p)
        for j in range(a[t - p] + 1, k):
            a[t] = j
            extend(t + 1, t)

    extend(1, 1)
    return bytes(letters[i] for i in sequence + sequence[:2])


def test_the_hardest_payloads_zlib_could_shorten_are_longer_than_those_left_uncompressed():
    """Few letters and no repeated run of three: deflate's best case without a match (a small Huffman table).

    Stretches of these sequences without a repeated triple: zlib shortens some of 30 bytes,
    none of the lengths the signer leaves uncompressed.
    """
    shortest_compressed = min(
        (length
         for letters in (b"01", b"012", b"0123", b"01234", b"ab,[", b"[1,]0")
         for sequence in [de_bruijn(letters)]
         for start in range(len(sequence))
         for length in range(3, 64)
         if not tokens._has_repeated_triple(window := (sequence + sequence)[start : start + length])
         and len(window) == length
         and compressed_by_itsdangerous(window)),
    )
    assert shortest_compressed > tokens._SURELY_INCOMPRESSIBLE_MAX
