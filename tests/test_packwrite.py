"""Objects of each commit go to one small pack; packs merge geometrically; git reads them."""

from __future__ import annotations

from conftest import git, requires_git
from gitstore import Store
from gitstore.objects.packs import MERGE_AT, RETIRED, read_idx_oids


def pack_files(store):
    return sorted(p.name for p in (store.git_dir / "objects/pack").glob("*.idx"))


@requires_git
def test_commits_are_packed_merged_and_readable_by_git(tmp_path):
    store = Store.init(tmp_path / "s", fsync=False)
    store.create_ticket("1", client_name="a", company_name="b", actor="x")
    loose_before = sum(1 for p in (store.git_dir / "objects").glob("??/*"))
    for n in range(2 * MERGE_AT + 5):
        store.add_message("1", "E", sender="customer", sender_id="c", content=f"m{n}", actor="x")
    # no loose objects from the write path: everything went to packs
    assert sum(1 for p in (store.git_dir / "objects").glob("??/*")) == loose_before
    levels = [lvl for _name, lvl in store.objects.tracked()]
    assert levels.count(1) == 2 and levels.count(0) == 6  # two merges happened
    assert len(pack_files(store)) < 2 * MERGE_AT  # merged packs were removed (after a grace merge)
    # every object of every pack is a valid object git can read
    git(store.path, "fsck", "--strict", "--full")
    assert int(git(store.path, "rev-list", "--count", "HEAD")) == 2 * MERGE_AT + 7
    log = git(store.path, "log", "-3", "--format=%s").splitlines()
    assert log[0] == "Add external message to ticket 1"
    for idx in (store.git_dir / "objects/pack").glob("*.idx"):
        git(store.path, "verify-pack", str(idx))  # raises unless git accepts the pack
        assert read_idx_oids(idx)
    # a commit's own pack stores its trees; a merged pack deflates them
    assert _tree_block_types(store, level=0) == {0}  # deflate block type 0: stored
    assert _tree_block_types(store, level=1) - {0}  # deflated (zlib still stores a tree it cannot shrink)


def _tree_block_types(store, level):
    """Deflate block types (0 stored, 1 fixed, 2 dynamic Huffman) of the first block of
    every tree in the tracked packs of one level, found with ``git verify-pack -v``."""
    types = set()
    for name, lvl in store.objects.tracked():
        if lvl != level:
            continue
        pack = (store.git_dir / "objects/pack" / f"{name}.pack").read_bytes()
        for line in git(store.path, "verify-pack", "-v", str(store.git_dir / "objects/pack" / f"{name}.idx")).splitlines():
            fields = line.split()
            if len(fields) >= 5 and fields[1] == "tree":
                at = int(fields[4])
                while pack[at] & 0x80:  # variable-length entry header
                    at += 1
                types.add((pack[at + 3] >> 1) & 0b11)  # after the header: 2-byte zlib header
    return types


@requires_git
def test_store_keeps_working_after_plain_git_gc(tmp_path):
    store = Store.init(tmp_path / "s", fsync=False)
    store.create_ticket("1", client_name="a", company_name="b", actor="x")
    for n in range(MERGE_AT + 3):
        store.add_message("1", "E", sender="customer", sender_id="c", content=f"m{n}", actor="x")
    git(store.path, "gc", "-q", "--prune=now")
    again = Store.open(tmp_path / "s", fsync=False)
    for n in range(MERGE_AT + 3):
        again.add_message("1", "E", sender="customer", sender_id="c", content=f"n{n}", actor="x")
    assert len(again.read("1").external.messages) == 2 * (MERGE_AT + 3)
    assert all(lvl in (0, 1, RETIRED) for _n, lvl in again.objects.tracked())
    git(store.path, "fsck", "--strict")
    assert git(store.path, "status", "--porcelain") == ""


def test_failed_write_leaves_no_objects(tmp_path):
    store = Store.init(tmp_path / "s", fsync=False)
    store.create_ticket("1", client_name="a", company_name="b", actor="x")
    packs = pack_files(store)
    try:
        store.set_state("1", {"priority": "BAD"}, actor="x")
    except Exception:
        pass
    assert pack_files(store) == packs
    assert store.objects.staging.objects == {}
    try:
        store.set_state("1", {"priority": "LOW"}, actor="x")  # changes nothing
    except Exception:
        pass
    assert store.objects.staging.objects == {}
