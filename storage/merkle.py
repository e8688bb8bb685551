"""The minutes' Merkle tree (RFC 9162) over canonical JSON records, its proofs and their checks; pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) in RFC 9162 2.1.1
SHORT_HEX = 16  # how much of a root a head shows and a member witnesses
# A float has no canonical JSON (1.0, 1e0 and 1 are one number); records hold amounts in minor units.
_SCALARS = (str, int, bool, type(None))


def canonical(record: dict) -> bytes:
    """The record as canonical JSON: sorted keys, no spaces, UTF-8; floats refused."""
    if not isinstance(record, dict):
        raise ValueError(f"a minutes record is a dict, not a {type(record).__name__}")
    _check(record, "record")
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate has no UTF-8, so no canonical form
        raise ValueError(f"a minutes record holds text that is not valid Unicode: {error}") from None


def _check(value: object, where: str) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            # json.dumps would turn 1 into "1": two records could then share one canonical form.
            if not isinstance(name, str):
                raise ValueError(f"{where} has the key {name!r}: minutes record keys are strings")
            _check(item, f"{where}.{name}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")
    elif not isinstance(value, _SCALARS):
        raise ValueError(
            f"{where} is a {type(value).__name__} ({value!r}): minutes records hold only ints, "
            "strings, bools, None, lists and dicts"
        )


def leaf_hash(record: dict) -> bytes:
    return hashlib.sha256(b"\x00" + canonical(record)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def short(root: bytes) -> str:
    return root.hex()[:SHORT_HEX]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]), level by level: an unpaired last node rises unchanged, which is RFC 9162's split."""
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1, the sibling nearest the leaf first."""
    if not 0 <= index < len(leaf_hashes):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaf_hashes)}")
    path, lo, hi = [], 0, len(leaf_hashes)
    while hi - lo > 1:  # walked from the root down, so the path is collected in reverse
        k = _split(hi - lo)
        if index < lo + k:
            path.append(root(leaf_hashes[lo + k:hi]))
            hi = lo + k
        else:
            path.append(root(leaf_hashes[lo:lo + k]))
            lo += k
    return path[::-1]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 2.1.4.1; empty for 0 and for n."""
    if not 0 <= old_size <= len(leaf_hashes):
        raise ValueError(f"a tree of {len(leaf_hashes)} has no earlier size {old_size}")
    if old_size == 0:  # every tree extends the empty one: there is nothing to prove
        return []
    path, lo, hi, m, whole = [], 0, len(leaf_hashes), old_size, True
    while m != hi - lo:  # walked from the root down, so the proof is collected in reverse
        k = _split(hi - lo)
        if m <= k:
            path.append(root(leaf_hashes[lo + k:hi]))
            hi = lo + k
        else:
            path.append(root(leaf_hashes[lo:lo + k]))
            lo, m, whole = lo + k, m - k, False
    if not whole:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}: the verifier cannot know this node
        path.append(root(leaf_hashes[lo:hi]))
    return path[::-1]


def _climb(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift fn and sn together until LSB(fn) is set or fn is 0 (RFC 9162 2.1.3.2, 4.b.ii)."""
    while not fn & 1 and fn != 0:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 2.1.3.2: does the proof lead from the leaf at index to the root of a tree of size?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _climb(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: is the tree of new_size the tree of old_size with leaves appended?"""
    if old_size == new_size:
        return old_size >= 0 and not proof and old_root == new_root
    if old_size == 0:
        return new_size > 0 and not proof and old_root == EMPTY_ROOT
    if not 0 < old_size < new_size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # the old tree is a whole subtree: its root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _climb(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


class MerkleLog:
    """An append-only tree that keeps only its right edge: O(log n) to append and to read the head."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.size = 0
        # The roots of the perfect subtrees the leaves fill, largest first: one per 1 bit of size.
        self._frontier: list[bytes] = []
        for leaf in leaf_hashes:
            self.append(leaf)

    @classmethod
    def resume(cls, size: int, frontier: Sequence[bytes]) -> MerkleLog:
        """The log as it stood, from a stored size and frontier, without its leaves."""
        if size < 0 or len(frontier) != size.bit_count():
            raise ValueError(f"a tree of {size} has {max(size, 0).bit_count()} frontier nodes, not {len(frontier)}")
        log = cls()
        log.size, log._frontier = size, list(frontier)
        return log

    @property
    def frontier(self) -> tuple[bytes, ...]:
        return tuple(self._frontier)

    def append(self, leaf: bytes) -> int:
        """Adds a leaf and returns its index."""
        node, filled = leaf, self.size
        while filled & 1:  # each trailing 1 bit is a subtree of the same size that this leaf completes
            node = node_hash(self._frontier.pop(), node)
            filled >>= 1
        self._frontier.append(node)
        self.size += 1
        return self.size - 1

    def head(self) -> bytes:
        if not self._frontier:
            return EMPTY_ROOT
        node = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):  # MTH splits at the largest subtree first
            node = node_hash(left, node)
        return node
