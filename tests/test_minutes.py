"""The minutes' Merkle tree against RFC 9162, its reference vectors, and a few lines written from the RFC."""

from __future__ import annotations

import hashlib
import re

import pytest

from storage.merkle import (
    EMPTY_ROOT, MerkleLog, canonical, consistency_proof, inclusion_proof, leaf_hash, node_hash, root,
    verify_consistency, verify_inclusion,
)
from handlers.texts import head_text


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# The Certificate Transparency reference tree (RFC 6962 test data, used by certificate-transparency's
# merkle_tree_test.cc, Trillian's testonly package and most CT libraries): leaf inputs, the root of
# each prefix of 1 to 8 leaves, and reference proofs in that tree.
CT_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {  # (leaf index, tree size): PATH
    (0, 1): [],
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}
CT_CONSISTENCY = {  # (old size, new size): PROOF
    (1, 1): [],
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (6, 7): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CT_LEAVES = [sha256(b"\x00" + bytes.fromhex(data)) for data in CT_INPUTS]


# RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1, word for word and recursive: the oracle, kept apart from
# the code under test.
def rfc_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = rfc_k(len(hashes))
    return sha256(b"\x01" + rfc_mth(hashes[:k]) + rfc_mth(hashes[k:]))


def rfc_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = rfc_k(len(hashes))
    if m < k:
        return rfc_path(m, hashes[:k]) + [rfc_mth(hashes[k:])]
    return rfc_path(m - k, hashes[k:]) + [rfc_mth(hashes[:k])]


def rfc_subproof(m: int, hashes: list[bytes], b: bool) -> list[bytes]:
    if m == len(hashes):
        return [] if b else [rfc_mth(hashes)]
    k = rfc_k(len(hashes))
    if m <= k:
        return rfc_subproof(m, hashes[:k], b) + [rfc_mth(hashes[k:])]
    return rfc_subproof(m - k, hashes[k:], False) + [rfc_mth(hashes[:k])]


def leaves(n: int) -> list[bytes]:
    return [leaf_hash({"n": i}) for i in range(n)]


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def every_flip(data: bytes):
    return (flipped(data, at) for at in range(len(data)))


def test_the_oracle_gives_the_reference_roots():
    """The recursive lines above, from the RFC text, agree with the published CT roots."""
    assert [rfc_mth(CT_LEAVES[:n]).hex() for n in range(1, 9)] == CT_ROOTS


def test_reference_roots():
    """MTH of the CT reference leaves for 0 to 8 leaves, from scratch and appended."""
    assert root([]) == EMPTY_ROOT == sha256(b"")
    log = MerkleLog()
    assert log.head() == EMPTY_ROOT
    for n in range(1, 9):
        log.append(CT_LEAVES[n - 1])
        assert root(CT_LEAVES[:n]).hex() == CT_ROOTS[n - 1] == log.head().hex()


def test_reference_proofs():
    """The CT reference inclusion and consistency proofs, made and checked."""
    for (index, size), expected in CT_INCLUSION.items():
        proof = inclusion_proof(CT_LEAVES[:size], index)
        assert [p.hex() for p in proof] == expected
        assert verify_inclusion(CT_LEAVES[index], index, size, proof, bytes.fromhex(CT_ROOTS[size - 1]))
    for (old, new), expected in CT_CONSISTENCY.items():
        proof = consistency_proof(CT_LEAVES[:new], old)
        assert [p.hex() for p in proof] == expected
        old_root, new_root = (bytes.fromhex(CT_ROOTS[size - 1]) for size in (old, new))
        assert verify_consistency(old, new, old_root, new_root, proof)


def test_every_inclusion_proof_up_to_20_leaves_verifies_and_no_flipped_byte_does():
    """Every (index, size) up to 20: the RFC's PATH, accepted; a byte changed in proof, root or leaf, refused."""
    hashes = leaves(20)
    for size in range(1, 21):
        head = root(hashes[:size])
        assert head == rfc_mth(hashes[:size])
        for index in range(size):
            proof, leaf = inclusion_proof(hashes[:size], index), hashes[index]
            assert proof == rfc_path(index, hashes[:size])
            assert verify_inclusion(leaf, index, size, proof, head)
            for at, p in enumerate(proof):
                assert not any(verify_inclusion(leaf, index, size, proof[:at] + [bad] + proof[at + 1:], head)
                               for bad in every_flip(p))
            assert not any(verify_inclusion(leaf, index, size, proof, bad) for bad in every_flip(head))
            assert not any(verify_inclusion(bad, index, size, proof, head) for bad in every_flip(leaf))
            # Another position, a proof cut short or padded: refused.
            assert not verify_inclusion(leaf, index, size, proof[:-1], head) or not proof
            assert not verify_inclusion(leaf, index, size, proof + [head], head)
            assert not verify_inclusion(leaf, index + size, size, proof, head)
            # A proof longer than the tree is high: refused, whatever root it leads to.
            assert not verify_inclusion(leaf, index, size, proof + [head], node_hash(head, head))
        if size & (size - 1) == 0:  # a whole subtree: its proof, claimed for one leaf more, falls short
            assert not verify_inclusion(hashes[0], 0, size + 1, inclusion_proof(hashes[:size], 0), head)


def test_every_consistency_proof_up_to_20_leaves_verifies_and_no_flipped_byte_does():
    """Every (old, new) up to 20: the RFC's PROOF, accepted; a byte changed in the proof or either root, refused."""
    hashes = leaves(20)
    for new in range(1, 21):
        new_root = root(hashes[:new])
        for old in range(1, new + 1):
            proof, old_root = consistency_proof(hashes[:new], old), root(hashes[:old])
            assert proof == rfc_subproof(old, hashes[:new], True)
            assert verify_consistency(old, new, old_root, new_root, proof)
            for at, p in enumerate(proof):
                assert not any(verify_consistency(old, new, old_root, new_root, proof[:at] + [bad] + proof[at + 1:])
                               for bad in every_flip(p))
            assert not any(verify_consistency(old, new, bad, new_root, proof) for bad in every_flip(old_root))
            assert not any(verify_consistency(old, new, old_root, bad, proof) for bad in every_flip(new_root))
            assert not verify_consistency(new, old, new_root, old_root, proof) or old == new
            assert not verify_consistency(old, new, old_root, new_root, proof + [new_root])
            if new & (new - 1) == 0 and old < new:  # the same proof, claimed for one leaf more, falls short
                assert not verify_consistency(old, new + 1, old_root, new_root, proof)


def test_the_empty_tree_is_consistent_with_every_tree_and_only_with_its_own_root():
    hashes = leaves(5)
    assert consistency_proof(hashes, 0) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, root(hashes), [])
    assert not verify_consistency(0, 5, root(hashes[:1]), root(hashes), [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root(hashes), [root(hashes)])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ValueError):
        consistency_proof(hashes, 6)
    with pytest.raises(ValueError):
        inclusion_proof(hashes, 5)


def test_appending_gives_the_roots_made_from_scratch_for_1_to_300_leaves():
    hashes, log = leaves(300), MerkleLog()
    for n, leaf in enumerate(hashes, start=1):
        assert log.append(leaf) == n - 1
        assert log.size == n and len(log.frontier) == n.bit_count()
        assert log.head() == root(hashes[:n])
    assert MerkleLog.resume(log.size, log.frontier).head() == log.head()
    resumed = MerkleLog.resume(150, MerkleLog(hashes[:150]).frontier)
    for leaf in hashes[150:]:
        resumed.append(leaf)
    assert resumed.head() == log.head()
    with pytest.raises(ValueError):
        MerkleLog.resume(7, log.frontier[:2])


def test_a_hundred_thousand_leaves_need_no_recursion():
    """Big trees neither recurse nor stall: root, head and proofs at the edges."""
    hashes = [sha256(i.to_bytes(4, "big")) for i in range(100_000)]
    head = root(hashes)
    assert MerkleLog(hashes).head() == head
    for index in (0, 65_535, 65_536, 99_999):
        assert verify_inclusion(hashes[index], index, len(hashes), inclusion_proof(hashes, index), head)
    proof = consistency_proof(hashes, 65_537)
    assert verify_consistency(65_537, len(hashes), root(hashes[:65_537]), head, proof)


def test_canonical_json():
    """Sorted keys at every depth, no spaces, non-ASCII kept as UTF-8."""
    assert canonical({"b": 1, "a": [True, None, "x"], "c": {"z": 0, "y": -3}}) == (
        b'{"a":[true,null,"x"],"b":1,"c":{"y":-3,"z":0}}'
    )
    assert canonical({"name": "Zoë", "city": "Łódź", "note": "協同組合 🌱"}) == (
        '{"city":"Łódź","name":"Zoë","note":"協同組合 🌱"}'.encode("utf-8")
    )
    assert canonical({"kind": "payout", "amount": 1234567890123456789, "to": [{"b": 2, "a": 1}]}) == (
        b'{"amount":1234567890123456789,"kind":"payout","to":[{"a":1,"b":2}]}'
    )
    assert canonical({"q": 'say "hi"\n'}) == b'{"q":"say \\"hi\\"\\n"}'
    assert canonical({"b": 1, "a": 2}) == canonical({"a": 2, "b": 1})
    assert leaf_hash({"a": 1}) == sha256(b'\x00{"a":1}')
    assert node_hash(b"L", b"R") == sha256(b"\x01LR")


@pytest.mark.parametrize("record, named", [
    ({"share": 0.5}, "record.share is a float"),
    ({"x": [1, float("nan")]}, "record.x[1] is a float"),
    ({"x": {"y": float("inf")}}, "record.x.y is a float"),
    ({1: "a"}, "the key 1"),
    ({"x": {1, 2}}, "record.x is a set"),
    ({"x": b"bytes"}, "record.x is a bytes"),
    ({"x": "\ud800"}, "not valid Unicode"),
    (["not", "a", "dict"], "is a dict, not a list"),
])
def test_canonical_json_refuses_what_has_no_one_form(record, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        canonical(record)


def test_head_text():
    head = bytes.fromhex(CT_ROOTS[7])
    assert head_text(8, head) == "Minutes 8 · 5dc9da79a70659a9"
