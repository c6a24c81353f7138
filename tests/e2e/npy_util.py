"""Write .npy files and mfkv --npy folders by hand (the test venv has no numpy)."""
import array
import os


def npy_bytes(values, shape, descr="<f4"):
    """A C-order .npy (format 1.0) holding `values` (flat) with `shape`."""
    typecode = {"<f4": "f", "<f8": "d"}[descr]
    dims = "(%s)" % ", ".join(str(s) for s in shape) if len(shape) != 1 else "(%d,)" % shape[0]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, dims)
    # Pad with spaces so the data starts 64-byte aligned, newline last.
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    body = array.array(typecode, values).tobytes()  # little-endian on x86-64
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + body


def write_npy_model(folder, users, items, factors, rng, global_bias=3.5):
    """A random model as the folder `mfkv build --npy` reads."""
    os.makedirs(folder, exist_ok=True)

    def put(name, data):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)

    put("user_factors.npy", npy_bytes([rng.uniform(-1, 1) for _ in range(users * factors)], (users, factors)))
    put("item_factors.npy", npy_bytes([rng.uniform(-1, 1) for _ in range(items * factors)], (items, factors)))
    put("user_bias.npy", npy_bytes([rng.uniform(-0.5, 0.5) for _ in range(users)], (users,)))
    put("item_bias.npy", npy_bytes([rng.uniform(-0.5, 0.5) for _ in range(items)], (items,)))
    put("user_ids.txt", "".join(f"u{u}\n" for u in range(users)).encode())
    put("item_ids.txt", "".join(f"{i + 1}\n" for i in range(items)).encode())
    put("global_bias.txt", f"{global_bias}\n".encode())
