"""Counter-based dice: uniforms that are a pure function of who is drawing and why.

A draw about a visitor is ``U(mix(luck ^ key(step, purpose, draw)))``, where ``luck`` is the
visitor's own 64-bit value for the replication (``fold(replication key, uid)``), and
``mix`` is the splitmix64 finalizer (Steele, Lea and Flood 2014), a bijection of 64-bit
integers with full avalanche. Nothing depends on how many other visitors drew before, so
two designs run on the same seed give a visitor the same dice wherever they do not differ
(docs/model.md §6). numpy computes a draw in a dozen array operations on ``uint64``
arrays; built with its compiled loops (``sim/_dice.pyx``, :mod:`sim._compiled`), the package
computes the same values in one pass, which counts on the few hundred leads a step of a
batch acts on, where each array operation's fixed cost outweighs its work.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

import sim._compiled as kernels

U64 = NDArray[np.uint64]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_MASK = (1 << 64) - 1
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_A1, _A2 = np.uint64(_M1), np.uint64(_M2)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
_HALF = 0.5
_UNIT = 2.0**-53


def mix_int(x: int) -> int:
    """The splitmix64 finalizer of one Python integer (taken modulo 2⁶⁴).

    Examples:
        >>> mix_int(0)
        0
        >>> mix_int(1) == mix_int(1) != mix_int(2)
        True
    """
    x &= _MASK
    x = ((x ^ (x >> 30)) * _M1) & _MASK
    x = ((x ^ (x >> 27)) * _M2) & _MASK
    return x ^ (x >> 31)


def mix(x: U64) -> U64:
    """The splitmix64 finalizer of every entry of a ``uint64`` array (a new array)."""
    x = x ^ (x >> _S30)  # uint64 arrays wrap on overflow, silently, as the hash needs
    return _mix_rest(x)


def _mix_rest(x: U64, t: U64 | None = None) -> U64:
    """The finalizer after its first xor-shift, in place (``t``: scratch of x's shape)."""
    x *= _A1
    if t is None:
        t = x >> _S27
    else:
        np.right_shift(x, _S27, out=t)
    x ^= t
    x *= _A2
    np.right_shift(x, _S31, out=t)
    x ^= t
    return x


def fold_int(*parts: int) -> int:
    """Several integers hashed into one: ``mix(… mix(mix(p0) ^ p1) … ^ pn)``."""
    acc = 0
    for part in parts:
        acc = mix_int(acc ^ (part & _MASK))
    return acc


def fold(key: int | U64, part: int | U64 | NDArray[np.integer]) -> U64:
    """``mix(key ^ part)`` over arrays: a key and the parts it is combined with."""
    k = np.asarray(key, dtype=np.uint64)
    p = np.asarray(part).astype(np.uint64, copy=False)
    if kernels.ENABLED and k.shape == p.shape and k.ndim == 1:
        return kernels.folded(k, p)
    x = np.bitwise_xor(k, p)
    t = x >> _S30
    x ^= t
    return _mix_rest(x, t)


def name_key(name: str) -> int:
    """A stable 64-bit key for a name (a step id and purpose, a channel name)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


@functools.lru_cache(maxsize=1 << 16)
def salts_of(names: tuple[str, ...], draw: int) -> U64:
    """What a visitor's luck is xored with for draw ``draw`` of each purpose named.

    ``mix(name_key(name) ^ draw)`` each, read-only, remembered across models: the optimizer
    builds thousands of models whose steps draw for the same purposes on the same days.
    """
    salts = np.array([mix_int(name_key(name) ^ draw) for name in names], dtype=np.uint64)
    salts.flags.writeable = False
    return salts


def to_uniform(h: U64) -> FloatArray:
    """The top 53 bits of each hash as a float strictly inside (0, 1): ``(h >> 11 + ½) / 2⁵³``.

    Never 0 or 1, so inverse distribution functions and logarithms of it are finite.
    ``h`` is overwritten.
    """
    np.right_shift(h, _S11, out=h)
    u = h.astype(np.float64)
    u += _HALF
    u *= _UNIT
    return u


def uniforms(luck: U64, key: int, draw: int | NDArray[np.integer] = 0) -> FloatArray:
    """One uniform per luck value: ``U(mix(luck ^ mix(key ^ draw)))``.

    ``draw`` numbers the draws of one purpose (an int for all, or one per entry).
    """
    if isinstance(draw, int | np.integer):
        h = luck ^ np.uint64(mix_int(key ^ int(draw)))
    else:
        h = luck ^ fold(key, draw)
    return mixed_uniforms(h)


def salted_uniforms(luck: U64, salts: Sequence[int | np.uint64] | U64) -> FloatArray:
    """``mixed_uniforms(luck ^ salt)`` for several salts at once: row k is salt k's.

    The same values as one call per salt, in one pass over all of them (a few draws of
    each visitor in the array operations of one).
    """
    if kernels.ENABLED:
        everyone = np.arange(luck.size)
        return kernels.gathered(luck, everyone, np.asarray(salts, dtype=np.uint64))
    h = np.empty((len(salts), luck.size), dtype=np.uint64)
    for row, salt in zip(h, salts, strict=True):
        np.bitwise_xor(luck, np.uint64(salt), out=row)
    return mixed_uniforms(h)


def mixed_uniforms(h: U64) -> FloatArray:
    """``U(mix(h))`` for each entry of ``h`` (overwritten), with as few passes as it takes.

    The same values as ``to_uniform(mix(h))``: the float is made from the top 53 bits
    and ½ in one pass, in the memory of the scratch array.
    """
    t = h >> _S30
    h ^= t
    _mix_rest(h, t)
    np.right_shift(h, _S11, out=h)
    u = t.view(np.float64)
    np.add(h, _HALF, out=u)  # the integer converted to a float, then ½ added: as to_uniform
    u *= _UNIT
    return u


def drawn(luck: U64, who: IntArray, salts: U64) -> FloatArray:
    """``salted_uniforms(luck[who], salts)``: row k holds the visitors' draws of salt k.

    ``luck`` is every visitor's luck and ``who`` the ids drawn for, so that the compiled
    dice gather, mix and scale in one pass.
    """
    if kernels.ENABLED:
        return kernels.gathered(luck, who, salts)
    return salted_uniforms(luck[who], list(salts))


def drawn_each(luck: U64, who: IntArray, key: int, draw: IntArray) -> FloatArray:
    """``uniforms(luck[who], key, draw)``: one numbered draw per visitor (``draw[i]``)."""
    if kernels.ENABLED:
        draws = np.asarray(draw, dtype=np.int64)
        return kernels.gathered_each(luck, who, np.uint64(key), draws)
    return uniforms(luck[who], key, draw)
