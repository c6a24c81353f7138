"""ctypes declarations of include/mfkv.h and include/mfkv_build.h.

Only marshalling lives here: every check, computation and file layout is
done by the C libraries.
"""
import ctypes
import ctypes.util
import os
from pathlib import Path

c_u32, c_u64, c_i64 = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int64
c_char_p, c_size_t, c_int = ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int
c_f32_p = ctypes.POINTER(ctypes.c_float)
c_u64_p = ctypes.POINTER(c_u64)


def _find(name):
    """The path of lib<name>.so (see README.md for the search order)."""
    candidates = []
    if os.environ.get("MFKV_LIB_DIR"):
        candidates.append(Path(os.environ["MFKV_LIB_DIR"]) / f"lib{name}.so")
    for parent in Path(__file__).resolve().parents:
        candidates.append(parent / "zig-out" / "lib" / f"lib{name}.so")
    for c in candidates:
        if c.exists():
            return str(c)
    found = ctypes.util.find_library(name)
    if found:
        return found
    raise OSError(
        f"lib{name}.so not found: build mfkv (tools/zig build) in the checkout this package "
        f"belongs to, install it (zig build install -p /usr/local), or set MFKV_LIB_DIR")


class List(ctypes.Structure):
    _fields_ = [("count", c_u32), ("raw", ctypes.c_void_p)]


class ItemInfo(ctypes.Structure):
    _fields_ = [("id", ctypes.c_void_p), ("id_len", c_size_t),
                ("title", ctypes.c_void_p), ("title_len", c_size_t),
                ("genres", ctypes.c_void_p), ("genres_len", c_size_t)]


class Info(ctypes.Structure):
    _fields_ = [("format_major", c_u32), ("format_minor", c_u32), ("k", c_u32),
                ("n_factors", c_u32), ("n_users", c_u32), ("n_items", c_u32),
                ("has_fallback", c_u32), ("has_titles", c_u32), ("build_time", c_i64),
                ("digest", c_u64), ("provenance", ctypes.c_void_p), ("provenance_len", c_size_t)]


class VerifyReport(ctypes.Structure):
    _fields_ = [("records_checked", c_u64), ("records_bad", c_u64),
                ("digest_computed", c_u64), ("first_problem", ctypes.c_char * 256)]


class BuildError(ctypes.Structure):
    _fields_ = [("status", c_int), ("message", ctypes.c_char * 1024)]


class BuildSide(ctypes.Structure):
    _fields_ = [("n", c_u32), ("ids", c_char_p), ("offsets", c_u64_p),
                ("factors", c_f32_p), ("bias", c_f32_p)]


class BuildParams(ctypes.Structure):
    _fields_ = [("users", BuildSide), ("items", BuildSide), ("n_factors", c_u32),
                ("global_bias", ctypes.c_double), ("k", c_u32), ("threads", ctypes.c_uint),
                ("fallback", c_int), ("shard_index", c_u32), ("shard_count", c_u32),
                ("build_time", c_i64), ("options", c_char_p)]


_reader = None
_builder = None


def reader():
    global _reader
    if _reader is None:
        lib = ctypes.CDLL(_find("mfkv"), use_errno=True)
        P = ctypes.POINTER
        sigs = {
            "mfkv_strerror": (c_char_p, [c_int]),
            "mfkv_open": (c_int, [c_char_p, ctypes.c_uint, P(ctypes.c_void_p)]),
            "mfkv_close": (None, [ctypes.c_void_p]),
            "mfkv_get": (c_int, [ctypes.c_void_p, c_char_p, c_size_t, P(List)]),
            "mfkv_fallback": (c_int, [ctypes.c_void_p, P(List)]),
            "mfkv_item": (c_int, [ctypes.c_void_p, c_u32, P(ItemInfo)]),
            "mfkv_info_get": (c_int, [ctypes.c_void_p, P(Info)]),
            "mfkv_verify": (c_int, [ctypes.c_void_p, P(VerifyReport)]),
            "mfkv_iter_begin": (c_int, [ctypes.c_void_p, P(ctypes.c_void_p)]),
            "mfkv_iter_next": (c_int, [ctypes.c_void_p, P(ctypes.c_void_p), P(c_size_t), P(List)]),
            "mfkv_iter_end": (None, [ctypes.c_void_p]),
        }
        for name, (res, args) in sigs.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        _reader = lib
    return _reader


def builder():
    global _builder
    if _builder is None:
        lib = ctypes.CDLL(_find("mfkvbuild"))
        P = ctypes.POINTER
        lib.mfkv_build_arrays.restype = c_int
        lib.mfkv_build_arrays.argtypes = [c_char_p, P(BuildParams), P(BuildError)]
        lib.mfkv_merge.restype = c_int
        lib.mfkv_merge.argtypes = [c_char_p, P(c_char_p), c_size_t, P(BuildError)]
        lib.mfkv_shard_assign.restype = c_int
        lib.mfkv_shard_assign.argtypes = [c_char_p, c_u64_p, c_size_t, c_u32, P(c_u32)]
        _builder = lib
    return _builder
