"""An independent checker: is a collection's FAISS snapshot exactly its database's member rows?

It imports no docqa code. It reads the database with its driver (sqlite3 or
psycopg) using its own SQL, and the snapshot directory
`<data_dir>/index/<collection>/` with FAISS and numpy, and checks:

1. the manifest: collection, model and dim equal the collection's binding in
   the `collections` table, db_identity equals `meta.db_identity`,
   applied_seq is a seq the database issued, count equals the live vectors,
   every listed file has its recorded size and xxh3 checksum;
2. the id set of the index equals the member ids of the database (members: a
   chunk of the collection whose document is `indexed`, with an embedding of
   the bound model and dim, 4*dim bytes long);
3. every vector is byte-equal to the stored embedding (all of them from the
   FAISS storage by position, plus a sample reconstructed by id / position);
4. the row hashes kept beside the index equal hashes computed here from the
   rows (SQLite: xxh3_64(embedding, seed=id); PostgreSQL: the first 8 bytes
   of sha256(int8(id) || embedding), also compared with the stored column),
   and add up to the manifest's digest;
5. probe searches through FAISS return what brute force over the database
   rows returns (ties within 1e-5 allowed);
6. every acknowledged write is present: for each document the last
   acknowledged operation (or a later one that was in flight when the process
   died) describes what the database and the index hold.

HNSW snapshots: `labels.npy` maps graph positions to chunk ids and
`alive.npy` marks the positions that are not tombstones; only alive positions
count, and no chunk id may be alive twice.

Usage: python -m bench.faults.checker --db URL --data-dir DIR [--acks FILE.jsonl] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np
import xxhash

MASK = (1 << 64) - 1
HNSW_MIN_RECALL = 0.9
TIE = 1e-5


@dataclass
class CheckResult:
    consistent: bool = True
    problems: list[str] = field(default_factory=list)
    db_members: int = 0
    index_vectors: int = 0
    index_type: str = ""
    applied_seq: int = 0
    db_max_seq: int = 0
    acked_documents: int = 0
    lost_acked: list[str] = field(default_factory=list)
    probes: int = 0
    differing_ids: int = 0  # missing + extra + byte-different
    stale_changes: int = 0  # change-log rows after the snapshot's applied_seq
    explained_by_log: bool | None = None  # every differing id was changed after applied_seq (a stale snapshot)

    def fail(self, message: str) -> None:
        self.consistent = False
        if len(self.problems) < 50:
            self.problems.append(message)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- the database side


class DbReader:
    """The database seen through its driver only."""

    def __init__(self, url: str) -> None:
        self.is_pg = url.startswith(("postgresql://", "postgres://"))
        if self.is_pg:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            self.mark = "%s"
        else:
            path = url.removeprefix("sqlite:///")
            if not Path(path).exists():
                raise FileNotFoundError(f"no SQLite database at {path}")
            self.conn = sqlite3.connect(path, timeout=30)
            self.mark = "?"

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        sql = sql.replace("?", self.mark)
        cur = self.conn.execute(sql, params)
        return list(cur.fetchall())

    def scalar(self, sql: str, params: tuple = (), default=None):
        got = self.rows(sql, params)
        return got[0][0] if got and got[0][0] is not None else default

    def close(self) -> None:
        self.conn.close()

    def binding(self, collection: str) -> tuple[str, int] | None:
        got = self.rows("SELECT model, dim FROM collections WHERE name = ?", (collection,))
        return (str(got[0][0]), int(got[0][1])) if got else None

    def identity(self) -> str:
        return str(self.scalar("SELECT value FROM meta WHERE key = 'db_identity'", default=""))

    def max_seq(self) -> int:
        top = int(self.scalar("SELECT max(seq) FROM index_changes", default=0))
        floor = int(self.scalar("SELECT value FROM meta WHERE key = 'log_floor'", default=0))
        return max(top, floor)

    def members(self, collection: str, model: str, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, vectors float32[n, dim], row hashes uint64) of the member rows, ordered by id."""
        stored_col = self.is_pg or self._sqlite_has_hash_column()
        hash_col = ", c.embedding_hash" if stored_col else ""
        sql = (
            f"SELECT c.id, c.embedding{hash_col} FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.collection = ? AND d.status = 'indexed' AND c.model = ? AND c.dim = ? "
            "AND c.embedding IS NOT NULL AND length(c.embedding) = ? ORDER BY c.id"
        )
        got = self.rows(sql, (collection, model, dim, dim * 4))
        ids = np.array([int(r[0]) for r in got], dtype=np.int64)
        blobs = [bytes(r[1]) for r in got]
        vecs = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(got), dim) if got else np.zeros((0, dim), "<f4")
        if self.is_pg:
            hashes = np.array([pg_row_hash(i, b) for i, b in zip(ids.tolist(), blobs)], dtype=np.uint64)
            stored = np.array([int(r[2]) & MASK for r in got], dtype=np.uint64)
            if not np.array_equal(hashes, stored):
                raise AssertionError("PostgreSQL's stored embedding_hash differs from sha256 of the row")
        else:
            hashes = np.array([sqlite_row_hash(i, b) for i, b in zip(ids.tolist(), blobs)], dtype=np.uint64)
            if stored_col:  # a cache of the row hash (NULL = not stored); a stored value must be the true one
                for row, h in zip(got, hashes.tolist()):
                    if row[2] is not None and int(row[2]) & MASK != h:
                        raise AssertionError(f"SQLite's stored embedding_hash of chunk {row[0]} is stale")
        return ids, vecs, hashes

    def _sqlite_has_hash_column(self) -> bool:
        return any(r[1] == "embedding_hash" for r in self.rows("PRAGMA table_info(chunks)"))

    def documents(self, collection: str) -> dict[str, str]:
        return {
            str(r[0]): str(r[1])
            for r in self.rows("SELECT id, status FROM documents WHERE collection = ?", (collection,))
        }

    def member_chunks_of(self, collection: str, model: str, dim: int) -> dict[str, list[tuple[int, str]]]:
        sql = (
            "SELECT c.document_id, c.id, c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.collection = ? AND d.status = 'indexed' AND c.model = ? AND c.dim = ? "
            "AND c.embedding IS NOT NULL AND length(c.embedding) = ?"
        )
        out: dict[str, list[tuple[int, str]]] = {}
        for doc, cid, text in self.rows(sql, (collection, model, dim, dim * 4)):
            out.setdefault(str(doc), []).append((int(cid), str(text)))
        return out


def sqlite_row_hash(row_id: int, blob: bytes) -> int:
    return xxhash.xxh3_64_intdigest(blob, seed=row_id & MASK)


def pg_row_hash(row_id: int, blob: bytes) -> int:
    return int.from_bytes(hashlib.sha256((row_id & MASK).to_bytes(8, "big") + blob).digest()[:8], "big")


# ---------------------------------------------------------------- the snapshot side


@dataclass
class Snapshot:
    manifest: dict
    index: faiss.Index
    ids: np.ndarray  # live chunk ids, by live position order
    vectors: np.ndarray  # float32[n, dim], same order
    hashes: np.ndarray | None  # row hashes kept beside the index, same order
    positions: np.ndarray  # FAISS positions of the live rows


def _xxh3_file(path: Path) -> str:
    h = xxhash.xxh3_64()
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            h.update(block)
    return h.hexdigest()


def _storage_vectors(storage: faiss.Index, dim: int) -> np.ndarray:
    flat = faiss.downcast_index(storage)
    codes = faiss.vector_to_array(flat.codes)
    return codes.view("<f4").reshape(int(flat.ntotal), dim)


def read_snapshot(directory: Path, result: CheckResult) -> Snapshot | None:
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        leftovers = sorted(p.name for p in directory.parent.glob(f"{directory.name}*") if p != directory)
        result.fail(f"no snapshot at {directory} (other entries: {leftovers})")
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for name, info in (manifest.get("files") or {}).items():
        path = directory / name
        if not path.is_file():
            result.fail(f"manifest lists {name}, which is missing")
            return None
        if path.stat().st_size != info.get("size") or _xxh3_file(path) != info.get("xxh3"):
            result.fail(f"{name}: size or xxh3 differs from the manifest")
            return None
    index = faiss.read_index(str(directory / "index.faiss"))
    kind = manifest.get("index_type")
    dim = int(manifest["dim"])
    if index.d != dim:
        result.fail(f"index.faiss has dim {index.d}, manifest says {dim}")
        return None
    hashes_all = np.load(directory / "hashes.npy", allow_pickle=False) if (directory / "hashes.npy").is_file() else None
    if kind == "flat":
        if not isinstance(index, faiss.IndexIDMap2):
            result.fail(f"flat snapshot holds {type(index).__name__}, not IndexIDMap2")
            return None
        labels = faiss.vector_to_array(index.id_map).astype(np.int64)
        vectors = _storage_vectors(index.index, dim)
        positions = np.arange(len(labels), dtype=np.int64)
    elif kind == "hnsw":
        if not isinstance(index, faiss.IndexHNSWFlat):
            result.fail(f"hnsw snapshot holds {type(index).__name__}, not IndexHNSWFlat")
            return None
        all_labels = np.load(directory / "labels.npy", allow_pickle=False).astype(np.int64)
        alive = np.load(directory / "alive.npy", allow_pickle=False).astype(bool)
        if len(all_labels) != index.ntotal or len(alive) != index.ntotal:
            result.fail(f"hnsw: {len(all_labels)} labels, {len(alive)} alive flags for {index.ntotal} vectors")
            return None
        positions = np.flatnonzero(alive)
        labels = all_labels[positions]
        vectors = _storage_vectors(index.storage, dim)[positions]
    else:
        result.fail(f"unknown index type {kind!r}")
        return None
    hashes = None
    if hashes_all is not None:
        if len(hashes_all) != index.ntotal:
            result.fail(f"hashes.npy holds {len(hashes_all)} hashes for {index.ntotal} vectors")
        else:
            hashes = hashes_all[positions]
    return Snapshot(manifest, index, labels, vectors, hashes, positions)


# ---------------------------------------------------------------- checks


def _check_manifest(snap: Snapshot, db: DbReader, collection: str, binding, result: CheckResult) -> None:
    m = snap.manifest
    model, dim = binding
    for what, got, want in (
        ("collection", m.get("collection"), collection),
        ("model", m.get("model"), model),
        ("dim", m.get("dim"), dim),
        ("db_identity", m.get("db_identity"), db.identity()),
        ("count", m.get("count"), len(snap.ids)),
    ):
        if got != want:
            result.fail(f"manifest {what} is {got!r}, expected {want!r}")
    if int(m.get("applied_seq", -1)) > result.db_max_seq or int(m.get("applied_seq", -1)) < 0:
        result.fail(
            f"manifest applied_seq {m.get('applied_seq')} is not a seq the database issued ({result.db_max_seq})"
        )


def _check_rows(
    snap: Snapshot, ids: np.ndarray, vecs: np.ndarray, hashes: np.ndarray, result: CheckResult
) -> np.ndarray:
    """Returns the ids that differ (missing, extra or with other bytes)."""
    if len(np.unique(snap.ids)) != len(snap.ids):
        uniq, counts = np.unique(snap.ids, return_counts=True)
        result.fail(f"ids live more than once in the index: {uniq[counts > 1][:10].tolist()}")
    missing = np.setdiff1d(ids, snap.ids)
    extra = np.setdiff1d(snap.ids, ids)
    if len(missing):
        result.fail(f"{len(missing)} member ids missing from the index, e.g. {missing[:10].tolist()}")
    if len(extra):
        result.fail(f"{len(extra)} ids in the index are not members, e.g. {extra[:10].tolist()}")
    order = np.argsort(snap.ids, kind="stable")
    sid, svec = snap.ids[order], snap.vectors[order]
    common, ia, ib = np.intersect1d(ids, sid, assume_unique=False, return_indices=True)
    differ = np.flatnonzero((vecs[ia].view(np.uint32) != svec[ib].view(np.uint32)).any(axis=1))
    if len(differ):
        result.fail(f"{len(differ)} vectors differ from the stored bytes, e.g. ids {common[differ][:10].tolist()}")
    _check_reconstruct(snap, ids, vecs, result)
    if snap.hashes is not None:
        kept = snap.hashes[order][ib]
        bad = np.flatnonzero(kept != hashes[ia])
        if len(bad):
            result.fail(f"{len(bad)} row hashes kept beside the index differ, e.g. ids {common[bad][:10].tolist()}")
        digest = int(snap.hashes.sum(dtype=np.uint64))
        want = int(str(snap.manifest.get("digest", "0")), 16)
        if digest != want:
            result.fail(f"the kept row hashes sum to {digest:016x}, manifest digest is {want:016x}")
    db_digest = int(hashes.sum(dtype=np.uint64))
    if len(missing) == 0 and len(extra) == 0 and int(str(snap.manifest.get("digest", "0")), 16) != db_digest:
        result.fail(f"manifest digest {snap.manifest.get('digest')} differs from the database's {db_digest:016x}")
    return np.unique(np.concatenate([missing, extra, common[differ]]))


def _explain_by_log(db: DbReader, collection: str, differing: np.ndarray, result: CheckResult) -> None:
    """A snapshot older than the database is honest if everything that differs changed after its applied_seq."""
    result.differing_ids = len(differing)
    if result.applied_seq >= result.db_max_seq:
        return
    touched = {
        int(r[0])
        for r in db.rows(
            "SELECT DISTINCT chunk_id FROM index_changes WHERE collection = ? AND seq > ?",
            (collection, result.applied_seq),
        )
    }
    result.stale_changes = int(
        db.scalar(
            "SELECT count(*) FROM index_changes WHERE collection = ? AND seq > ?", (collection, result.applied_seq), 0
        )
    )
    if len(differing):
        result.explained_by_log = all(int(i) in touched for i in differing.tolist())
        result.fail(
            f"snapshot is stale: applied_seq {result.applied_seq} < {result.db_max_seq} ({result.stale_changes} changes "
            f"after it); the {len(differing)} differing ids are "
            + ("all among them (stale but honest)" if result.explained_by_log else "NOT all among them")
        )


def _check_reconstruct(
    snap: Snapshot, ids: np.ndarray, vecs: np.ndarray, result: CheckResult, sample: int = 64
) -> None:
    """A sample reconstructed through FAISS's own API: by id (flat) or by position (HNSW)."""
    row_of = {int(i): r for r, i in enumerate(ids.tolist())}
    rng = np.random.default_rng(len(ids))
    pick = rng.choice(len(snap.ids), size=min(sample, len(snap.ids)), replace=False) if len(snap.ids) else []
    for j in pick:
        cid = int(snap.ids[j])
        if cid not in row_of:
            continue
        if snap.manifest.get("index_type") == "flat":
            got = snap.index.reconstruct(cid)
        else:
            got = snap.index.reconstruct(int(snap.positions[j]))
        if got.astype("<f4").tobytes() != vecs[row_of[cid]].tobytes():
            result.fail(f"reconstruct of id {cid} differs from the stored embedding")
            return


def _check_probes(snap: Snapshot, ids: np.ndarray, vecs: np.ndarray, result: CheckResult, probes: int, k: int) -> None:
    if len(ids) == 0 or len(snap.ids) == 0:
        return
    rng = np.random.default_rng(1234)
    dim = vecs.shape[1]
    queries = rng.standard_normal((probes, dim)).astype(np.float32)
    near = vecs[rng.integers(0, len(vecs), size=probes // 2)] + 0.05 * queries[: probes // 2]
    queries[: probes // 2] = near
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    k = min(k, len(ids))
    if snap.manifest.get("index_type") == "hnsw":
        alive = np.zeros(int(snap.index.ntotal), dtype=bool)
        alive[snap.positions] = True
        bitmap = np.packbits(alive, bitorder="little")
        sel = faiss.IDSelectorBitmap(len(alive), faiss.swig_ptr(bitmap))
        params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(256, int(snap.index.ntotal)))
        scores, pos = snap.index.search(queries, k, params=params)
        id_at = np.full(int(snap.index.ntotal), -1, dtype=np.int64)
        id_at[snap.positions] = snap.ids
        got_ids = np.where(pos >= 0, id_at[np.clip(pos, 0, None)], -1)
    else:
        scores, got_ids = snap.index.search(queries, k)
    brute = queries @ vecs.T
    score_of = [dict(zip(ids.tolist(), row.tolist())) for row in brute]
    approximate = snap.manifest.get("index_type") == "hnsw"
    for q in range(len(queries)):
        kth = np.sort(brute[q])[::-1][k - 1]
        outside = 0  # ids a graph search found although brute force ranks them below the k-th
        for s, cid in zip(scores[q].tolist(), got_ids[q].tolist()):
            if cid < 0 or cid not in score_of[q]:
                result.fail(f"probe {q}: the index returned id {cid}, not a member")
                break
            if abs(score_of[q][cid] - s) > TIE:
                result.fail(f"probe {q}: id {cid} score {s:.6f} is not its vector's score {score_of[q][cid]:.6f}")
                break
            if score_of[q][cid] < kth - TIE:
                outside += 1
                if not approximate:
                    result.fail(f"probe {q}: id {cid} score {s:.6f} is not in brute force's top {k} (k-th {kth:.6f})")
                    break
        # HNSW is approximate by design, even searched with ef >= n (a random direction far from the data can
        # miss a near-tie at the k-th place): every id must be a member at its exact score, and recall@k must
        # stay at HNSW_MIN_RECALL or above; a broken graph or wrong vectors fall far below it
        if approximate and (k - outside) < HNSW_MIN_RECALL * k - 1e-9:  # (1 - 0.9) * 10 is 0.999...: no floats
            result.fail(f"probe {q}: recall@{k} {1 - outside / k:.2f} against brute force (< {HNSW_MIN_RECALL})")
    result.probes = len(queries)


def expected_states(acks: list[dict]) -> dict[str, list[dict]]:
    """Per document, the states the store may be in: that of the last acknowledged operation, or of a later
    operation that was sent but never acknowledged (in flight at the kill, or answered with an error)."""
    by_op: dict[int, dict] = {}
    for rec in acks:
        entry = by_op.setdefault(int(rec["i"]), {"acked": False})
        entry.update({k: v for k, v in rec.items() if k != "phase"})
        if rec.get("phase") == "acked":
            entry["acked"] = True
    per_doc: dict[str, list[dict]] = {}
    for _, op in sorted(by_op.items()):
        states = per_doc.setdefault(op["document_id"], [])
        if op["acked"]:
            states[:] = [op]
        else:
            states.append(op)
    return {doc: states for doc, states in per_doc.items() if any(s["acked"] for s in states)}


def _state_holds(op: dict, status: str | None, chunks: list[tuple[int, str]], index_ids: set[int]) -> bool:
    if op["op"] == "delete":
        return status in (None, "deleted") and not chunks
    if status != "indexed" or not chunks:
        return False
    if op.get("chunks") is not None and len(chunks) != int(op["chunks"]):
        return False
    if op.get("marker") and not any(op["marker"] in text for _, text in chunks):
        return False
    return all(cid in index_ids for cid, _ in chunks)


def _check_acks(db: DbReader, collection: str, binding, snap_ids: np.ndarray, acks: list[dict], result: CheckResult):
    expected = expected_states(acks)
    result.acked_documents = len(expected)
    statuses = db.documents(collection)
    chunks = db.member_chunks_of(collection, *binding) if binding else {}
    index_ids = set(snap_ids.tolist())
    for doc, states in sorted(expected.items()):
        if not any(_state_holds(s, statuses.get(doc), chunks.get(doc, []), index_ids) for s in states):
            want = " or ".join(f"{s['op']}#{s['i']}{'' if s['acked'] else ' (unacked)'}" for s in states)
            result.lost_acked.append(doc)
            result.fail(
                f"acknowledged write lost: document {doc} should be {want}; database status "
                f"{statuses.get(doc)}, {len(chunks.get(doc, []))} member chunks"
            )


def check(
    db_url: str,
    data_dir: Path,
    collection: str = "default",
    acks: list[dict] | None = None,
    probes: int = 8,
    k: int = 10,
) -> CheckResult:
    result = CheckResult()
    db = DbReader(db_url)
    try:
        binding = db.binding(collection)
        result.db_max_seq = db.max_seq()
        snap = read_snapshot(Path(data_dir) / "index" / collection, result)
        if binding is None:
            ids, vecs, hashes = np.empty(0, np.int64), np.empty((0, 0), "<f4"), np.empty(0, np.uint64)
        else:
            try:
                ids, vecs, hashes = db.members(collection, *binding)
            except AssertionError as exc:  # a stored row hash that is not the row's: the digest proof is broken
                result.fail(str(exc))
                return result
        result.db_members = len(ids)
        if snap is not None:
            result.index_vectors = len(snap.ids)
            result.index_type = str(snap.manifest.get("index_type"))
            result.applied_seq = int(snap.manifest.get("applied_seq", -1))
            if binding is None:
                if len(snap.ids):
                    result.fail(f"the database binds no model to {collection!r}, the index holds {len(snap.ids)}")
            else:
                _check_manifest(snap, db, collection, binding, result)
                _explain_by_log(db, collection, _check_rows(snap, ids, vecs, hashes, result), result)
                _check_probes(snap, ids, vecs, result, probes, k)
        elif len(ids) == 0:  # nothing stored, no snapshot: consistent
            result.consistent, result.problems = True, []
        if acks:
            _check_acks(db, collection, binding, snap.ids if snap is not None else np.empty(0, np.int64), acks, result)
    finally:
        db.close()
    return result


def read_acks(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line torn by the kill of the writer: it was never acknowledged
                continue
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="sqlite:///path.db or postgresql://...")
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--collection", default="default")
    parser.add_argument("--acks", type=Path, help="JSON lines of sent/acknowledged writes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = check(args.db, args.data_dir, args.collection, read_acks(args.acks) if args.acks else None)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(
            f"{'consistent' if result.consistent else 'INCONSISTENT'}: {result.db_members} members, "
            f"{result.index_vectors} vectors ({result.index_type}), applied_seq {result.applied_seq}/{result.db_max_seq}, "
            f"{result.acked_documents} acknowledged documents, {len(result.lost_acked)} lost"
        )
        for p in result.problems:
            print("  -", p)
    return 0 if result.consistent else 1


if __name__ == "__main__":
    sys.exit(main())
