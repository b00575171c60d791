"""Build generated C source into a shared object with the system C compiler, cached on disk.

The compiled library is keyed by a hash of the source, the compiler and its flags, stored under
``$RAVINE_CACHE_DIR`` (default ``~/.cache/ravine``) and loaded with :mod:`ctypes`. A second
process finds the library already built and only loads it (a few milliseconds). Loading marks a
library as used (its modification time); after each new build, libraries unused for
:data:`MAX_AGE_DAYS` are removed, so kernels of old ravine versions do not pile up. When there is no
compiler, or the build fails, :func:`load_library` returns ``None`` and callers use their torch
fallback; the reason is kept in :data:`last_error`.

Environment:
    ``RAVINE_CC``: the compiler (default ``cc`` on ``PATH``); ``RAVINE_CC=none`` disables it.
    ``RAVINE_CACHE_DIR``: where built libraries are kept.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["CFLAGS", "MAX_AGE_DAYS", "cache_dir", "find_compiler", "last_error", "load_library",
           "prune_cache"]

MAX_AGE_DAYS = 30.0  # a cached kernel not loaded for this long is removed after the next build

# -O3 and the host's vector units; no -ffast-math: the kernels must round exactly as written
# (FMA only where spelled out, so -ffp-contract=off), -fno-math-errno lets sqrt vectorize.
# -funroll-loops: more loads in flight per iteration, measurably faster on memory-bound loops.
# -fno-builtin-sin/cos: GCC would merge sin(a) and cos(a) into one sincos call, which has no
# vector version; kept apart, both vectorize (the gradient-noise kernels' Box-Muller).
CFLAGS = ("-O3", "-march=native", "-funroll-loops", "-fopenmp", "-fPIC", "-shared", "-std=c11",
          "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math",
          "-fno-builtin-sin", "-fno-builtin-cos", "-fno-builtin-sinf", "-fno-builtin-cosf")

last_error: str | None = None
_loaded: dict[str, ctypes.CDLL | None] = {}
_found: dict[tuple[str, str], str | None] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """The directory that holds compiled kernels (created on first use)."""
    root = os.environ.get("RAVINE_CACHE_DIR")
    path = Path(root) if root else Path.home() / ".cache" / "ravine"
    return path / "kernels"


def find_compiler() -> str | None:
    """Path of the C compiler to use, or ``None`` when there is none (or ``RAVINE_CC=none``)."""
    name = os.environ.get("RAVINE_CC", "cc")
    if name.lower() in ("", "none", "0", "off"):
        return None
    key = (name, os.environ.get("PATH", ""))
    if key not in _found:  # which() stats every PATH entry: once per environment
        _found[key] = shutil.which(name)
    return _found[key]


def _compiler_id(cc: str) -> str:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0] if out.stdout else cc
    except (OSError, subprocess.SubprocessError):
        return cc


def load_library(source: str, name: str) -> ctypes.CDLL | None:
    """Compile ``source`` (once per source, compiler and flags) and load it.

    Args:
        source: the complete C translation unit.
        name: a short readable prefix for the file name.

    Returns:
        the loaded library, or ``None`` if no compiler is available or the build failed
        (the compiler's message is kept in ``ravine.optim.fast.compiler.last_error``).
    """
    global last_error
    cc = find_compiler()
    if cc is None:
        last_error = "no C compiler (set RAVINE_CC or install gcc)"
        return None
    key = hashlib.sha256("\0".join((source, _compiler_id(cc), *CFLAGS)).encode()).hexdigest()
    with _lock:
        if key in _loaded:
            return _loaded[key]
        lib = _build_and_load(cc, source, f"{name}-{key[:16]}")
        _loaded[key] = lib
        return lib


def _build_and_load(cc: str, source: str, stem: str) -> ctypes.CDLL | None:
    global last_error
    directory = cache_dir()
    target = directory / f"{stem}.so"
    if not target.exists():
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=directory) as tmp:
                c_file = Path(tmp) / f"{stem}.c"
                c_file.write_text(source)
                so_file = Path(tmp) / f"{stem}.so"
                cmd = [cc, *CFLAGS, str(c_file), "-o", str(so_file), "-lm"]
                result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                if result.returncode != 0:
                    last_error = f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}"
                    return None
                os.replace(so_file, target)  # atomic: concurrent builders agree on the result
        except (OSError, subprocess.SubprocessError) as err:
            last_error = f"building {stem} failed: {err}"
            return None
        prune_cache()
    else:
        try:
            os.utime(target)  # used now: keeps it from being pruned
        except OSError:
            pass  # a read-only cache still works
    try:
        return ctypes.CDLL(str(target))
    except OSError as err:
        last_error = f"loading {target} failed: {err}"
        return None


def prune_cache(max_age_days: float = MAX_AGE_DAYS) -> list[Path]:
    """Remove cached libraries not loaded for ``max_age_days``; return the paths removed."""
    cutoff = time.time() - max_age_days * 86400.0
    removed = []
    try:
        entries = list(cache_dir().glob("*.so"))
    except OSError:
        return removed
    for path in entries:
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # another process removed or is using it: leave it
    return removed
