"""mfkv: exact top-K recommendation stores, from Python.

    st = mfkv.open("recs.mfkv")          # mfkv.h's reader
    recs = st.get("42")                   # Recommendations(item_ids, scores, item_index)
    for user_id, recs in st: ...
    st.info(); st.verify()
    mfkv.build(user_ids, user_factors, item_ids, item_factors, k=50, path="recs.mfkv")
    mfkv.merge("recs.mfkv", ["s0.mfkv", "s1.mfkv"])

Everything is done by libmfkv / libmfkvbuild (ctypes); failures raise
MfkvError carrying the library's status and message.
"""
import ctypes
import os
import time
from typing import NamedTuple

import numpy as np

from . import _native as N

__all__ = ["open", "build", "merge", "shard_of", "Store", "Recommendations", "PackedIds", "MfkvError", "STATUS"]

# mfkv_status (include/mfkv.h), by value.
STATUS = {0: "OK", 1: "NOTFOUND", 2: "CORRUPT", 3: "FORMAT", 4: "VERSION", 5: "IO", 6: "NOMEM",
          7: "INVAL", 8: "PARSE", 9: "LIMIT", 10: "INTERNAL"}
INVAL = 7


class MfkvError(Exception):
    """A failed mfkv call: .status (the mfkv_status value), .name and the message."""

    def __init__(self, status, message):
        self.status = status
        self.name = STATUS.get(status, str(status))
        super().__init__(f"{message} [{self.name}]")
        self.message = message


def _strerror(rc):
    return N.reader().mfkv_strerror(rc).decode()


class Recommendations(NamedTuple):
    """One ranked list, best first.  item_index and scores are read-only views
    of the store's memory map (no copy), valid until the store is closed."""
    item_ids: np.ndarray    # external item ids (str)
    scores: np.ndarray      # float32 predicted ratings, non-increasing
    item_index: np.ndarray  # uint32 index into the store's item table


def _view(address, count, dtype):
    if count == 0:
        return np.empty(0, dtype=dtype)
    buf = (ctypes.c_char * (4 * count)).from_address(address)
    a = np.frombuffer(buf, dtype=dtype)
    a.flags.writeable = False
    return a


class Store:
    """An open store (mfkv_open).  Use as a context manager or call close()."""

    _h = None

    def __init__(self, path, verify_records=True):
        self.path = os.fspath(path)
        lib = N.reader()
        h = ctypes.c_void_p()
        rc = lib.mfkv_open(self.path.encode(), 0 if verify_records else 1, ctypes.byref(h))
        if rc:
            detail = f": {os.strerror(ctypes.get_errno())}" if STATUS.get(rc) == "IO" else ""
            raise MfkvError(rc, f"{self.path}: {_strerror(rc)}{detail}")
        self._h = h
        info = N.Info()
        lib.mfkv_info_get(h, ctypes.byref(info))
        self._info = info
        ids = []
        it = N.ItemInfo()
        for i in range(info.n_items):
            lib.mfkv_item(h, i, ctypes.byref(it))
            ids.append(ctypes.string_at(it.id, it.id_len).decode())
        self._item_ids = np.array(ids, dtype=object)

    def _handle(self):
        if self._h is None:
            raise MfkvError(INVAL, f"{self.path}: the store is closed")
        return self._h

    def close(self):
        if self._h is not None:
            N.reader().mfkv_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _recs(self, lst, copy):
        idx = _view(lst.raw, lst.count, "<u4")
        scores = _view(lst.raw + 4 * lst.count, lst.count, "<f4")
        if copy:
            idx, scores = idx.copy(), scores.copy()
        return Recommendations(self._item_ids[idx], scores, idx)

    def get(self, user_id, copy=False):
        """The list of @user_id (str or int); None when the store has none."""
        key = str(user_id).encode()
        lst = N.List()
        rc = N.reader().mfkv_get(self._handle(), key, len(key), ctypes.byref(lst))
        if rc == 1:
            return None
        if rc:
            raise MfkvError(rc, f"{self.path}: user {user_id!r}: {_strerror(rc)}")
        return self._recs(lst, copy)

    def fallback(self, copy=False):
        """The list for users the model does not know; None when not stored."""
        lst = N.List()
        rc = N.reader().mfkv_fallback(self._handle(), ctypes.byref(lst))
        if rc == 1:
            return None
        if rc:
            raise MfkvError(rc, f"{self.path}: fallback list: {_strerror(rc)}")
        return self._recs(lst, copy)

    def __iter__(self):
        """(user_id, Recommendations) for every user, in key byte order."""
        lib = N.reader()
        it = ctypes.c_void_p()
        rc = lib.mfkv_iter_begin(self._handle(), ctypes.byref(it))
        if rc:
            raise MfkvError(rc, f"{self.path}: {_strerror(rc)}")
        try:
            key, klen, lst = ctypes.c_void_p(), ctypes.c_size_t(), N.List()
            while True:
                rc = lib.mfkv_iter_next(it, ctypes.byref(key), ctypes.byref(klen), ctypes.byref(lst))
                if rc == 1:
                    return
                if rc:
                    raise MfkvError(rc, f"{self.path}: reading users: {_strerror(rc)}")
                yield ctypes.string_at(key, klen.value).decode(), self._recs(lst, False)
        finally:
            lib.mfkv_iter_end(it)

    def __len__(self):
        return self._info.n_users

    @property
    def item_ids(self):
        return self._item_ids

    def info(self):
        i = self._info
        self._handle()
        return {
            "format": f"{i.format_major}.{i.format_minor}", "k": i.k, "n_factors": i.n_factors,
            "n_users": i.n_users, "n_items": i.n_items, "has_fallback": bool(i.has_fallback),
            "has_titles": bool(i.has_titles), "build_time": i.build_time, "digest": f"{i.digest:016x}",
            "provenance": ctypes.string_at(i.provenance, i.provenance_len).decode(),
        }

    def verify(self):
        """Check every record and the digest (mfkv_verify); raises MfkvError
        (status CORRUPT) naming the first problem, else returns the report."""
        rep = N.VerifyReport()
        rc = N.reader().mfkv_verify(self._handle(), ctypes.byref(rep))
        if rc:
            raise MfkvError(rc, f"{self.path}: {rep.first_problem.decode(errors='replace') or _strerror(rc)}"
                                f" ({rep.records_bad} of {rep.records_checked} records bad)")
        return {"records_checked": rep.records_checked, "digest": f"{rep.digest_computed:016x}"}


def open(path, verify_records=True):  # noqa: A001 - mirrors mfkv_open
    return Store(path, verify_records)


class PackedIds(NamedTuple):
    """Ids already in mfkv_build_side's form: the bytes of all ids one after
    another (bytes or a uint8 array) and n + 1 uint64 offsets from 0, so that
    id r is data[offsets[r]:offsets[r + 1]].  Accepted wherever ids are, and
    passed to C without a per-id step (the Spark job makes them from Arrow)."""
    data: object
    offsets: np.ndarray


def _pack_ids(ids, what):
    """Ids as one buffer and uint64 offsets (mfkv_build_side's form).
    Integer ids become their decimal text, as everywhere in mfkv."""
    if isinstance(ids, PackedIds):
        data = ids.data if isinstance(ids.data, bytes) else np.frombuffer(ids.data, dtype=np.uint8)
        offsets = np.ascontiguousarray(ids.offsets, dtype=np.uint64)
        if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0 or offsets[-1] > len(data):
            raise MfkvError(INVAL, f"{what}: PackedIds offsets must start at 0 and end within the data")
        return data, offsets
    enc = [str(i).encode() for i in (ids.tolist() if isinstance(ids, np.ndarray) else ids)]
    offsets = np.zeros(len(enc) + 1, dtype=np.uint64)
    if enc:
        np.cumsum([len(e) for e in enc], out=offsets[1:])
    return b"".join(enc), offsets


def _chars(data):
    """A char * for ctypes: bytes as they are, a uint8 array by its address
    (the caller keeps the array alive)."""
    return data if isinstance(data, bytes) else ctypes.cast(data.ctypes.data, ctypes.c_char_p)


def _matrix(a, rows, what, ids_what):
    m = np.ascontiguousarray(a, dtype=np.float32)
    if m.ndim != 2 or m.shape[0] != rows:
        raise MfkvError(INVAL, f"{what}: shape {m.shape}, expected ({rows}, n_factors): one row per id of {ids_what}")
    return m


def _vector(a, rows, what):
    if a is None:
        return None
    v = np.ascontiguousarray(a, dtype=np.float32)
    if v.shape != (rows,):
        raise MfkvError(INVAL, f"{what}: shape {v.shape}, expected ({rows},)")
    return v


def _side(ids, factors, bias, name, keep):
    packed, offsets = _pack_ids(ids, f"{name}_ids")
    m = _matrix(factors, len(offsets) - 1, f"{name}_factors", f"{name}_ids")
    b = _vector(bias, len(offsets) - 1, f"{name}_bias")
    keep += [packed, offsets, m, b]
    f32 = lambda a: a.ctypes.data_as(N.c_f32_p) if a is not None else None  # noqa: E731
    return N.BuildSide(len(offsets) - 1, _chars(packed), offsets.ctypes.data_as(N.c_u64_p), f32(m), f32(b)), m.shape[1]


def _build_time(build_time):
    if build_time is not None:
        return int(build_time)
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    return int(sde) if sde else int(time.time())


def build(user_ids, user_factors, item_ids, item_factors, *, path, user_bias=None, item_bias=None,
          global_bias=0.0, k=50, shard=None, fallback=True, threads=0, build_time=None, options=None):
    """Compute every user's exact top-k from in-memory arrays and publish the
    store at @path atomically (mfkv_build_arrays).  shard=(i, n) keeps only
    the users of shard i of n.  build_time defaults to $SOURCE_DATE_EPOCH,
    else now.  Returns the path."""
    keep = []
    users, fu = _side(user_ids, user_factors, user_bias, "user", keep)
    items, fi = _side(item_ids, item_factors, item_bias, "item", keep)
    if users.n and fu != fi:
        raise MfkvError(INVAL, f"user_factors has {fu} columns but item_factors has {fi}: factor lengths differ")
    si, sn = shard if shard is not None else (0, 0)
    if options is None:
        options = f"k={k} fallback={'yes' if fallback else 'no'} input=arrays"
    p = N.BuildParams(users, items, fi, float(global_bias), int(k), int(threads), int(bool(fallback)),
                      int(si), int(sn), _build_time(build_time), options.encode())
    err = N.BuildError()
    rc = N.builder().mfkv_build_arrays(os.fspath(path).encode(), ctypes.byref(p), ctypes.byref(err))
    if rc:
        raise MfkvError(rc, err.message.decode(errors="replace"))
    return path


def merge(path, shards):
    """Join shard stores into the store the unsharded build writes (mfkv_merge)."""
    arr = (ctypes.c_char_p * len(shards))(*[os.fspath(s).encode() for s in shards])
    err = N.BuildError()
    rc = N.builder().mfkv_merge(os.fspath(path).encode(), arr, len(shards), ctypes.byref(err))
    if rc:
        raise MfkvError(rc, err.message.decode(errors="replace"))
    return path


def shard_of(user_ids, n_shards):
    """The shard (0..n_shards-1) of each user id (src/format.h), as uint32."""
    packed, offsets = _pack_ids(user_ids, "user_ids")
    out = np.zeros(len(offsets) - 1, dtype=np.uint32)
    rc = N.builder().mfkv_shard_assign(_chars(packed), offsets.ctypes.data_as(N.c_u64_p), len(out), int(n_shards),
                                       out.ctypes.data_as(ctypes.POINTER(N.c_u32)))
    if rc:
        raise MfkvError(rc, f"shard_of: n_shards must be at least 1, got {n_shards}")
    return out
