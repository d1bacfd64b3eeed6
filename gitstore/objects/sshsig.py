"""SSH signatures (OpenSSH's SSHSIG format) with Ed25519 keys, made and checked in-process.

The format is OpenSSH's ``PROTOCOL.sshsig`` (openssh-portable), the one ``git`` writes
and checks with ``gpg.format=ssh``:

- the signed data is ``"SSHSIG"`` followed by the SSH strings (uint32 length + bytes)
  namespace, reserved (empty), hash algorithm and ``H(message)``; git signs commits in
  the namespace ``git`` and ``ssh-keygen`` hashes with ``sha512``;
- the signature blob is ``"SSHSIG"``, uint32 version 1, then the strings public key
  (SSH wire encoding: key type, key), namespace, reserved, hash algorithm and the SSH
  signature (key type, raw signature: 64 bytes for Ed25519);
- the armored text is ``-----BEGIN SSH SIGNATURE-----``, the blob in base64 broken
  every 70 characters (as ``ssh-keygen -Y sign`` writes it), ``-----END SSH SIGNATURE-----``.

Signing keys are OpenSSH private key files (``ssh-keygen -t ed25519``), read with the
``cryptography`` package, which also does the Ed25519 arithmetic. Only ``ssh-ed25519``
keys sign and verify here; other key types are reported as unsupported.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_ssh_private_key

from gitstore.errors import SignatureFormatError, SigningKeyError

MAGIC = b"SSHSIG"
"""The six-byte preamble of the blob and of the signed data."""
VERSION = 1
"""The blob version written and the highest one read."""
NAMESPACE_GIT = "git"
"""The namespace git signs commits in (``git verify-commit`` checks it)."""
HASH_ALGORITHM = "sha512"
"""The hash the signer uses (``ssh-keygen``'s default); ``sha256`` is also read."""
KEY_TYPE = "ssh-ed25519"
"""The one key type that signs and verifies here."""
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
LINE_WIDTH = 70
"""Base64 characters per armored line (``ssh-keygen -Y sign``)."""

_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}


def ssh_string(data: bytes) -> bytes:
    """The SSH wire encoding of a string (RFC 4251 §5): uint32 big-endian length, bytes."""
    return struct.pack(">I", len(data)) + data


class _Reader:
    """Reads SSH wire-format fields from a byte string (raising SignatureFormatError)."""

    def __init__(self, data: bytes, what: str):
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise SignatureFormatError(f"{self.what} is truncated")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.u32())

    def text(self) -> str:
        try:
            return self.string().decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureFormatError(f"{self.what} holds a field that is not UTF-8") from None

    def end(self) -> None:
        if self.pos != len(self.data):
            raise SignatureFormatError(f"{self.what} has {len(self.data) - self.pos} trailing bytes")


@dataclass(frozen=True)
class PublicKey:
    """An SSH public key, as its wire-format blob.

    Attributes:
        blob: the SSH encoding (string key type, then the type's fields; for Ed25519
            the string of the 32-byte key). Two keys are the same key when their blobs
            are equal.
    """

    blob: bytes

    @property
    def key_type(self) -> str:
        """The key type named inside the blob (``ssh-ed25519``, ``ssh-rsa``…)."""
        return _Reader(self.blob, "public key").text()

    @property
    def fingerprint(self) -> str:
        """OpenSSH's fingerprint: ``SHA256:`` and the unpadded base64 of SHA-256(blob)."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode("ascii").rstrip("=")
        return f"SHA256:{digest}"

    def openssh(self) -> str:
        """The key as an OpenSSH public key line without comment: ``ssh-ed25519 AAAA…``."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode('ascii')}"

    @classmethod
    def from_ed25519(cls, raw: bytes) -> "PublicKey":
        """The public key of a raw 32-byte Ed25519 key."""
        return cls(ssh_string(KEY_TYPE.encode()) + ssh_string(raw))

    @classmethod
    def parse(cls, text: str) -> tuple["PublicKey", str]:
        """Parse an OpenSSH public key line: ``<type> <base64> [comment]``.

        Returns:
            ``(key, comment)``; the comment is ``""`` when absent.

        Raises:
            SignatureFormatError: not a key line, bad base64, or a blob whose type is
                not the one the line names.
        """
        parts = text.strip().split(None, 2)
        if len(parts) < 2:
            raise SignatureFormatError("not an OpenSSH public key: expected '<type> <base64> [comment]'")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            raise SignatureFormatError(f"not an OpenSSH public key: the {parts[0]} key is not valid base64") from None
        key = cls(blob)
        if key.key_type != parts[0]:
            raise SignatureFormatError(f"not an OpenSSH public key: the line says {parts[0]}, the key is {key.key_type}")
        return key, parts[2].strip() if len(parts) > 2 else ""


@lru_cache(maxsize=4096)
def _ed25519(blob: bytes) -> Ed25519PublicKey:
    reader = _Reader(blob, "public key")
    if reader.text() != KEY_TYPE:
        raise SignatureFormatError("not an ssh-ed25519 key")
    raw = reader.string()
    reader.end()
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise SignatureFormatError("an ssh-ed25519 key must be 32 bytes") from None


def signed_data(message: bytes, namespace: str, hash_algorithm: str = HASH_ALGORITHM) -> bytes:
    """The bytes an SSH signature signs for ``message`` (``PROTOCOL.sshsig`` §3).

    Raises:
        SignatureFormatError: a hash algorithm other than ``sha256``/``sha512``.
    """
    if hash_algorithm not in _HASHES:
        raise SignatureFormatError(f"unsupported hash algorithm {hash_algorithm!r} (sha256 or sha512)")
    digest = _HASHES[hash_algorithm](message).digest()
    return MAGIC + ssh_string(namespace.encode()) + ssh_string(b"") + ssh_string(hash_algorithm.encode()) + ssh_string(digest)


@dataclass(frozen=True)
class SshSignature:
    """A parsed SSH signature (``PROTOCOL.sshsig`` §2).

    Attributes:
        public_key: the key that made it (as the blob states it).
        namespace: its namespace (``git`` for commits).
        hash_algorithm: ``sha256`` or ``sha512``.
        algorithm: the SSH signature algorithm (``ssh-ed25519``).
        raw: the raw signature (64 bytes for Ed25519).
    """

    public_key: PublicKey
    namespace: str
    hash_algorithm: str
    algorithm: str
    raw: bytes

    def verify(self, message: bytes, namespace: str = NAMESPACE_GIT) -> bool:
        """True when this is a valid signature of ``message`` in ``namespace`` by its key.

        Raises:
            SignatureFormatError: the key or hash is of a type not supported here.
        """
        if self.namespace != namespace:
            return False
        if self.algorithm != KEY_TYPE:
            raise SignatureFormatError(f"unsupported signature algorithm {self.algorithm!r} (gitstore checks ssh-ed25519)")
        key = _ed25519(self.public_key.blob)
        try:
            key.verify(self.raw, signed_data(message, self.namespace, self.hash_algorithm))
        except InvalidSignature:
            return False
        return True


def parse_signature(armored: str | bytes) -> SshSignature:
    """Parse an armored SSH signature (``-----BEGIN SSH SIGNATURE-----`` … ``END``).

    Raises:
        SignatureFormatError: no SSH armor, bad base64, a blob that is not SSHSIG
            version 1, an empty namespace, or trailing bytes.
    """
    text = armored.decode("ascii", "replace") if isinstance(armored, bytes) else armored
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != BEGIN or lines[-1] != END:
        raise SignatureFormatError("not an SSH signature (no -----BEGIN SSH SIGNATURE----- armor)")
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureFormatError("the SSH signature is not valid base64") from None
    reader = _Reader(blob, "SSH signature")
    if reader.take(len(MAGIC)) != MAGIC:
        raise SignatureFormatError("the SSH signature does not start with SSHSIG")
    version = reader.u32()
    if version != VERSION:
        raise SignatureFormatError(f"SSH signature version {version} is not supported (version {VERSION})")
    key = PublicKey(reader.string())
    namespace = reader.text()
    reader.string()  # reserved: ignored when not empty (PROTOCOL.sshsig)
    hash_algorithm = reader.text()
    inner = _Reader(reader.string(), "SSH signature's signature field")
    algorithm = inner.text()
    raw = inner.string()
    inner.end()
    reader.end()
    if not namespace:
        raise SignatureFormatError("the SSH signature has an empty namespace")
    return SshSignature(key, namespace, hash_algorithm, algorithm, raw)


def armor(blob: bytes) -> str:
    """The armored text of a signature blob (70 base64 characters a line, final newline)."""
    encoded = base64.b64encode(blob).decode("ascii")
    body = "\n".join(encoded[i:i + LINE_WIDTH] for i in range(0, len(encoded), LINE_WIDTH))
    return f"{BEGIN}\n{body}\n{END}\n"


class SigningKey:
    """An Ed25519 private key that makes SSH signatures.

    Args:
        private: the key.
        source: where it came from (a file path), named in errors.
    """

    def __init__(self, private: Ed25519PrivateKey, source: str = "key"):
        self.private = private
        self.source = source
        raw = private.public_key().public_bytes_raw()
        self.public_key = PublicKey.from_ed25519(raw)
        self._prefix = MAGIC + struct.pack(">I", VERSION) + ssh_string(self.public_key.blob)

    def sign(self, message: bytes, namespace: str = NAMESPACE_GIT) -> str:
        """Sign ``message`` and return the armored SSH signature (sha512)."""
        raw = self.private.sign(signed_data(message, namespace, HASH_ALGORITHM))
        signature = ssh_string(KEY_TYPE.encode()) + ssh_string(raw)
        blob = self._prefix + ssh_string(namespace.encode()) + ssh_string(b"") + ssh_string(HASH_ALGORITHM.encode())
        return armor(blob + ssh_string(signature))

    def sign_commit(self, content: bytes) -> str:
        """Sign a commit object's bytes (without ``gpgsig``) for git: namespace ``git``."""
        return self.sign(content, NAMESPACE_GIT)


def load_signing_key(path: str | Path) -> SigningKey:
    """Read an unencrypted OpenSSH private key file holding an Ed25519 key.

    Raises:
        SigningKeyError: no such file, unreadable, not an OpenSSH private key, protected
            by a passphrase (gitstore does not prompt: use an unencrypted key file readable
            only by its owner), or a key type other than ``ssh-ed25519``.
    """
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"signing key {where}: no such file") from None
    except OSError as exc:
        raise SigningKeyError(f"signing key {where}: {exc.strerror or exc}") from None
    if data.lstrip().startswith(b"ssh-"):
        raise SigningKeyError(f"signing key {where} is a public key: name the private key file (without .pub)")
    try:
        key = load_ssh_private_key(data, password=None)
    except TypeError:
        raise SigningKeyError(
            f"signing key {where} is protected by a passphrase: gitstore signs with an unencrypted key file (chmod 600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"signing key {where} is not an OpenSSH private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"signing key {where} is not an ssh-ed25519 key (make one with: ssh-keygen -t ed25519)")
    return SigningKey(key, where)


__all__ = [
    "BEGIN", "END", "HASH_ALGORITHM", "KEY_TYPE", "NAMESPACE_GIT", "PublicKey", "SigningKey", "SshSignature",
    "armor", "load_signing_key", "parse_signature", "signed_data", "ssh_string",
]
