"""Template-data encryption for `encrypted: true` sends (Zalo §1.6, Infobip §2.8).

Cipher: "RSA/ECB/OAEPWITHSHA-256ANDMGF1PADDING" as the JVM's default provider (SunJCE) implements that
name — OAEP digest SHA-256 but MGF1 with **SHA-1** — then Base64. Zalo decrypts on the JVM, so
MGF1-SHA-256 (what most non-Java libraries would pick) produces values Zalo cannot read.
"""

import base64
import binascii

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TRANSFORMATION = "RSA/ECB/OAEPWITHSHA-256ANDMGF1PADDING"
OAEP_HASH_BYTES = 32  # SHA-256: the label hash decides the overhead, MGF1's hash does not
JVM_OAEP = padding.OAEP(
    mgf=padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 - what SunJCE uses for this name
    algorithm=hashes.SHA256(),
    label=None,
)


# The weakest key we encrypt personal data with or store as an OA's key (NIST SP 800-131A: 2048
# bits; e = 65537 rules out the small exponents behind Coppersmith/Håstad-style attacks).
MIN_KEY_BITS = 2048
REQUIRED_EXPONENT = 65537


class EncryptionError(ValueError):
    """A value or key we cannot encrypt with; the message names the field and the limit."""


class WeakKeyError(EncryptionError):
    """An RSA key that is well-formed but too weak: under MIN_KEY_BITS or e != REQUIRED_EXPONENT."""

    def __init__(self, bits: int, exponent: int):
        self.bits = bits
        self.exponent = exponent
        super().__init__(
            f"the RSA key is too weak ({bits} bits, public exponent {exponent}): at least "
            f"{MIN_KEY_BITS} bits with public exponent {REQUIRED_EXPONENT} are required"
        )


def check_key_strength(key: rsa.RSAPublicKey) -> rsa.RSAPublicKey:
    """The key itself, or WeakKeyError."""
    exponent = key.public_numbers().e
    if key.key_size < MIN_KEY_BITS or exponent != REQUIRED_EXPONENT:
        raise WeakKeyError(key.key_size, exponent)
    return key


def load_public_key(data: str | bytes) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1) or Base64 of the DER (Infobip, Zalo).

    Every key we accept comes through here (provider answers, stored keys, key files), so a weak key
    (check_key_strength) is refused here too: WeakKeyError."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    raw = raw.strip()
    try:
        if raw.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(raw)
        else:
            der = base64.b64decode(b"".join(raw.split()), validate=True)
            try:
                key = serialization.load_der_public_key(der)
            except ValueError:
                key = serialization.load_der_public_key(_pkcs1_to_spki(der))
    except (ValueError, TypeError, binascii.Error, IndexError) as exc:
        raise EncryptionError(
            f"not an RSA public key in PEM or Base64 DER form ({type(exc).__name__})"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise EncryptionError("the public key is not an RSA key")
    return check_key_strength(key)


def _pkcs1_to_spki(der: bytes) -> bytes:
    """Wrap a bare PKCS#1 RSAPublicKey in SubjectPublicKeyInfo (rsaEncryption OID)."""
    algorithm = bytes.fromhex("300d06092a864886f70d0101010500")
    bit_string = b"\x03" + _der_length(len(der) + 1) + b"\x00" + der
    body = algorithm + bit_string
    return b"\x30" + _der_length(len(body)) + body


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def max_plaintext_bytes(key: rsa.RSAPublicKey) -> int:
    """k - 2*hLen - 2: 190 bytes for a 2048-bit key."""
    return key.key_size // 8 - 2 * OAEP_HASH_BYTES - 2


def encrypt_value(key: rsa.RSAPublicKey, field: str, value) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EncryptionError(f"template value {field!r} must be a string or a number")
    plaintext = str(value).encode("utf-8")
    limit = max_plaintext_bytes(key)
    if len(plaintext) > limit:
        raise EncryptionError(
            f"template value {field!r} is {len(plaintext)} bytes in UTF-8; one RSA-OAEP block of a "
            f"{key.key_size}-bit key holds at most {limit} bytes"
        )
    return base64.b64encode(key.encrypt(plaintext, JVM_OAEP)).decode("ascii")


def encrypt_template_data(key: rsa.RSAPublicKey | str | bytes, data: dict) -> dict[str, str]:
    """The same mapping with every value encrypted and Base64-encoded."""
    if not isinstance(key, rsa.RSAPublicKey):
        key = load_public_key(key)
    if not isinstance(data, dict):
        raise EncryptionError("template data must be a JSON object")
    return {str(name): encrypt_value(key, str(name), value) for name, value in data.items()}
