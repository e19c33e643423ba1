"""SHA-256 whose state can be saved between requests, so an upload is hashed while its chunks arrive.

Python's hashlib cannot export a digest's state, and the `rehash` package (which copied it out
of hashlib's OpenSSL context) refuses OpenSSL 3. So this uses OpenSSL's own low-level SHA-256
API through ctypes: `SHA256_Init/Update/Final` on a `SHA256_CTX` we allocate ourselves. That
struct is public and fixed (include/openssl/sha.h: h[8], Nl, Nh, data[16], num, md_len - 112
bytes), so saving the state is copying the bytes and loading it is copying them back. The
functions are deprecated in OpenSSL 3 but still exported by libcrypto.so.3 (and by 1.1).

Safety: on import the backend hashes random data split at odd offsets and compares with hashlib;
a state is only loaded after checking its length and that its bit counter (Nl, Nh) says exactly
the number of bytes the caller believes were hashed. When libcrypto is missing or any check
fails, `available()` is False and callers fall back to one streaming pass over the stored file:
slower, never a wrong hash.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import logging
import os
import struct

logger = logging.getLogger(__name__)

STATE_BYTES = 112  # sizeof(SHA256_CTX)
_COUNTER = struct.Struct("<II")  # Nl, Nh: the number of bits hashed, low and high 32 bits
_COUNTER_OFFSET = 32  # after h[8]
_LIBRARY_NAMES = ("libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.3.dylib", "libcrypto.1.1.dylib")


class StateError(ValueError):
    """A saved state that does not match what the caller says it covers."""


def _load_library():
    candidates = [ctypes.util.find_library("crypto"), *_LIBRARY_NAMES]
    for name in candidates:
        if not name:
            continue
        try:
            library = ctypes.CDLL(name)
            init, update, final = library.SHA256_Init, library.SHA256_Update, library.SHA256_Final
        except (OSError, AttributeError):
            continue
        init.argtypes, init.restype = [ctypes.c_void_p], ctypes.c_int
        update.argtypes, update.restype = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t], ctypes.c_int
        final.argtypes, final.restype = [ctypes.c_char_p, ctypes.c_void_p], ctypes.c_int
        return init, update, final
    return None


_FUNCTIONS = _load_library()


class ResumableSha256:
    """hashlib.sha256 look-alike (update, digest, hexdigest) plus `state()` / `from_state()`."""

    __slots__ = ("_ctx", "length")

    def __init__(self) -> None:
        if _FUNCTIONS is None:
            raise RuntimeError("OpenSSL's SHA256 functions are not available")
        self._ctx = ctypes.create_string_buffer(STATE_BYTES)
        if _FUNCTIONS[0](self._ctx) != 1:
            raise RuntimeError("SHA256_Init failed")
        self.length = 0

    def update(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            data = bytes(data)
        if data and _FUNCTIONS[1](self._ctx, data, len(data)) != 1:
            raise RuntimeError("SHA256_Update failed")
        self.length += len(data)

    def state(self) -> bytes:
        return self._ctx.raw

    @classmethod
    def from_state(cls, state: bytes, *, length: int) -> ResumableSha256:
        """The hasher saved by `state()` after `length` bytes; StateError if the state says otherwise."""
        state = bytes(state or b"")
        if len(state) != STATE_BYTES:
            raise StateError(f"state is {len(state)} bytes, expected {STATE_BYTES}")
        low, high = _COUNTER.unpack_from(state, _COUNTER_OFFSET)
        if (high << 32 | low) != length * 8:
            raise StateError("state does not cover the expected number of bytes")
        hasher = cls()
        ctypes.memmove(hasher._ctx, state, STATE_BYTES)
        hasher.length = length
        return hasher

    def digest(self) -> bytes:
        # Final on a copy: the hasher can still be updated or saved afterwards.
        ctx = ctypes.create_string_buffer(self._ctx.raw, STATE_BYTES)
        out = ctypes.create_string_buffer(32)
        if _FUNCTIONS[2](out, ctx) != 1:
            raise RuntimeError("SHA256_Final failed")
        return out.raw

    def hexdigest(self) -> str:
        return self.digest().hex()


def _self_test() -> bool:
    data = os.urandom(200_003)
    try:
        hasher = ResumableSha256()
        for start, stop in ((0, 1), (1, 64), (64, 65_600), (65_600, 131_073), (131_073, len(data))):
            hasher = ResumableSha256.from_state(hasher.state(), length=start)
            hasher.update(data[start:stop])
        empty = ResumableSha256()
        return hasher.hexdigest() == hashlib.sha256(data).hexdigest() and (
            empty.hexdigest() == hashlib.sha256(b"").hexdigest()
        )
    except (RuntimeError, StateError, OSError):
        return False


_AVAILABLE = _FUNCTIONS is not None and _self_test()
if not _AVAILABLE:
    logger.warning("resumable SHA-256 unavailable (libcrypto not found or self-test failed): uploads hash at finish")


def available() -> bool:
    return _AVAILABLE
