"""RSA as Zalo and Infobip use it: RSA/ECB/OAEPWITHSHA-256ANDMGF1PADDING (JVM default: MGF1 with SHA-1)."""

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA256(), label=None)  # noqa: S303


def generate_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_key_b64(private_pem: str) -> str:
    """The public key as Base64 of its X.509 SubjectPublicKeyInfo DER (Java's X509EncodedKeySpec)."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def encrypt(public_b64: str, text: str) -> str:
    """What a client does: encrypt with the Base64-decoded public key, then Base64 the cipher text."""
    key = serialization.load_der_public_key(base64.b64decode(public_b64))
    return base64.b64encode(key.encrypt(text.encode(), OAEP)).decode()


def decrypt(private_pem: str, value: str) -> str:
    """Raises ValueError when the value is not Base64 or not decryptable with this key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    try:
        return key.decrypt(base64.b64decode(value, validate=True), OAEP).decode()
    except Exception as exc:
        raise ValueError("cannot decrypt") from exc
