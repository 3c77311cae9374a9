"""Signatures and AES message encryption against the official samples of WeChat's WXBizMsgCrypt demo, plus an
independent implementation written here from the protocol text (REFERENCE.md §8)."""

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from events.wechat.crypto import BLOCK, CryptoError, MessageCrypto, pkcs7_pad, pkcs7_unpad, signature

SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# The decryption sample of the official demo (token spamtest, AppID wx2c2769f8efd9abc2).
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpb"
    "UAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn"
    "6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1Dl"
    "D+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def test_official_sample_msg_signature_and_decryption():
    assert signature("spamtest", "1409735669", "1320562132", SAMPLE_ENCRYPT) == "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
    xml = MessageCrypto(SAMPLE_KEY, "wx2c2769f8efd9abc2").decrypt(SAMPLE_ENCRYPT)
    assert "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>" in xml
    assert "<Content><![CDATA[abcdteT]]></Content>" in xml and "<MsgId>6054768590064713728</MsgId>" in xml


def test_official_sample_encryption_with_a_known_random_prefix():
    crypto = MessageCrypto(SAMPLE_KEY, "wxb11529c136998cb6")
    encrypted = crypto.encrypt("我是中文abcd123", random16=b"aaaabbbbccccdddd")
    assert encrypted == "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="


def independent_decrypt(encoding_aes_key: str, encrypt: str) -> tuple[bytes, bytes, bytes]:
    """(random16, message, appid) decoded step by step from the protocol description."""
    key = base64.b64decode(encoding_aes_key + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
    plain = plain[:-plain[-1]]
    length = int.from_bytes(plain[16:20], "big")
    return plain[:16], plain[20:20 + length], plain[20 + length:]


def test_round_trip_and_the_layout_is_random16_length_message_appid():
    crypto = MessageCrypto(SAMPLE_KEY, "wx-app")
    message = "<xml><Content><![CDATA[井盖丢了 🕳]]></Content></xml>"
    encrypted = crypto.encrypt(message)
    random16, body, app_id = independent_decrypt(SAMPLE_KEY, encrypted)
    assert len(random16) == 16 and body.decode() == message and app_id == b"wx-app"
    assert crypto.decrypt(encrypted) == message
    assert crypto.encrypt(message) != encrypted  # a fresh random prefix every time
    assert len(base64.b64decode(encrypted)) % BLOCK == 0


def test_signature_is_sha1_of_the_sorted_values():
    expected = hashlib.sha1("".join(sorted(["tok", "123", "nonce"])).encode()).hexdigest()
    assert signature("tok", "123", "nonce") == expected
    assert signature("tok", "123", "nonce", "ENC") == hashlib.sha1("".join(sorted(["tok", "123", "nonce", "ENC"])).encode()).hexdigest()


@pytest.mark.parametrize("size", [0, 1, 31, 32, 33, 100])
def test_pkcs7_pads_to_32_byte_blocks(size):
    padded = pkcs7_pad(b"x" * size)
    assert len(padded) % 32 == 0 and 1 <= len(padded) - size <= 32
    assert pkcs7_unpad(padded) == b"x" * size


@pytest.mark.parametrize("bad", [b"", b"abc\x00", b"a" * 31 + b"\x21", b"a" * 30 + b"\x01\x02"])
def test_bad_padding_is_refused(bad):
    with pytest.raises(CryptoError):
        pkcs7_unpad(bad)


@pytest.mark.parametrize("key", ["", "short", SAMPLE_KEY + "x", "!" * 43])
def test_bad_encoding_aes_keys_are_refused(key):
    with pytest.raises(CryptoError):
        MessageCrypto(key, "wx-app")


def test_a_message_for_another_appid_or_tampered_or_not_base64_is_refused():
    encrypted = MessageCrypto(SAMPLE_KEY, "wx-other").encrypt("<xml/>")
    with pytest.raises(CryptoError, match="another AppID"):
        MessageCrypto(SAMPLE_KEY, "wx-app").decrypt(encrypted)
    raw = bytearray(base64.b64decode(encrypted))
    raw[-1] ^= 0xFF  # the last block decrypts to garbage: its padding is wrong
    with pytest.raises(CryptoError):
        MessageCrypto(SAMPLE_KEY, "wx-other").decrypt(base64.b64encode(bytes(raw)).decode())
    for junk in ("not base64 at all!", base64.b64encode(b"short").decode(), ""):
        with pytest.raises(CryptoError):
            MessageCrypto(SAMPLE_KEY, "wx-app").decrypt(junk)


def test_a_length_field_beyond_the_plaintext_is_refused():
    key = base64.b64decode(SAMPLE_KEY + "=")
    plain = pkcs7_pad(b"r" * 16 + struct.pack(">I", 10_000) + b"<xml/>wx-app")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypted = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
    with pytest.raises(CryptoError, match="length"):
        MessageCrypto(SAMPLE_KEY, "wx-app").decrypt(encrypted)
