import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubedirector.api.secretkeys import SecretKeyError, decrypt, encrypt, key_error

KEY = "00112233445566778899aabbccddeeff" * 2
OTHER_KEY = "ff" * 32


@given(st.text(max_size=200))
def test_round_trip(value):
    assert decrypt(encrypt(value, KEY), KEY) == value


@pytest.mark.parametrize("key", ["ab" * 16, "ab" * 24, "ab" * 32])
def test_aes_key_sizes(key):
    assert key_error(key) is None
    assert decrypt(encrypt("v", key), key) == "v"


def test_fresh_nonce_each_time():
    assert encrypt("v", KEY) != encrypt("v", KEY)


def test_known_nonce_is_deterministic():
    nonce = bytes(12)
    token = encrypt("secret", KEY, nonce=nonce)
    assert token == encrypt("secret", KEY, nonce=nonce)
    assert token.startswith("00" * 12)
    assert len(token) == 2 * (12 + len("secret") + 16)


def test_wrong_key_is_refused():
    with pytest.raises(SecretKeyError, match="does not match"):
        decrypt(encrypt("v", KEY), OTHER_KEY)


def test_tampered_value_is_refused():
    token = encrypt("value", KEY)
    tampered = token[:-2] + ("00" if token[-2:] != "00" else "01")
    with pytest.raises(SecretKeyError):
        decrypt(tampered, KEY)


@pytest.mark.parametrize("token", ["zz", "00" * 12, ""])
def test_malformed_value_is_refused(token):
    with pytest.raises(SecretKeyError):
        decrypt(token, KEY)


@pytest.mark.parametrize(("key", "reason"), [("xyz", "hexadecimal"), ("ab" * 10, "AES key")])
def test_bad_keys(key, reason):
    error = key_error(key)
    assert error is not None and reason in error
    with pytest.raises(SecretKeyError, match="masterEncryptionKey"):
        encrypt("v", key)


def test_bad_nonce_length():
    with pytest.raises(SecretKeyError, match="nonce"):
        encrypt("v", KEY, nonce=b"short")
