"""AES-256-GCM sealing with a key ring."""

import pytest

from tether.kit.crypto import KeyRing, KeyRingError, Sealed, format_key, generate_key, parse_keys


def test_sealing_then_opening_gives_the_secret_back() -> None:
    ring = KeyRing([generate_key("k1")])

    sealed = ring.seal("refresh-token-123")

    assert "refresh-token-123" not in sealed.token
    assert sealed.key_id == "k1"
    assert ring.open(sealed) == "refresh-token-123"


def test_the_same_secret_seals_differently_each_time() -> None:
    ring = KeyRing([generate_key("k1")])

    assert ring.seal("same").token != ring.seal("same").token


def test_an_older_key_still_opens_and_reseal_moves_to_the_newest() -> None:
    old = generate_key("old")
    sealed = KeyRing([old]).seal("secret")
    ring = KeyRing([generate_key("new"), old])

    resealed = ring.reseal(sealed)

    assert resealed.key_id == "new"
    assert ring.open(resealed) == ring.open(sealed) == "secret"
    assert ring.reseal(resealed) is resealed


def test_a_tampered_secret_or_a_missing_key_fails_without_revealing_anything() -> None:
    ring = KeyRing([generate_key("k1")])
    sealed = ring.seal("secret")
    tampered = Sealed(
        sealed.token[:-2] + ("A" if sealed.token[-2] != "A" else "B") + sealed.token[-1]
    )

    with pytest.raises(KeyRingError, match="failed to open"):
        ring.open(tampered)
    with pytest.raises(KeyRingError, match="No key 'k1'"):
        KeyRing([generate_key("k2")]).open(sealed)


def test_sealed_values_never_print_their_content() -> None:
    sealed = KeyRing([generate_key("k1")]).seal("secret")

    assert repr(sealed) == str(sealed) == "Sealed(key_id='k1')"
    assert "secret" not in f"{sealed}"


def test_keys_parse_from_settings_text_newest_first() -> None:
    text = f"{format_key(generate_key('b'))}, {format_key(generate_key('a'))}"

    assert [key.key_id for key in parse_keys(text)] == ["b", "a"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("nokey", "key_id:base64key"),
        ("k1:not base64!", "not valid base64"),
        ("k1:" + "QUJD", "32 bytes"),
        ("bad id:" + "A" * 43 + "=", "key id"),
    ],
)
def test_malformed_keys_are_refused_with_a_reason(text: str, problem: str) -> None:
    with pytest.raises(KeyRingError, match=problem):
        parse_keys(text)


def test_duplicate_key_ids_are_refused() -> None:
    with pytest.raises(KeyRingError, match="unique"):
        KeyRing([generate_key("k1"), generate_key("k1")])


def test_keys_never_print_their_material() -> None:
    key = generate_key("k1")

    assert repr(key) == "Key(key_id='k1')"
