"""Where networks live: the one place that reads device names and placements.

The estimators' ``device`` parameter, persistence's saved ``device_`` and the
diagnostics' input tensors all go through these functions, so that a device name
means the same thing and fails with the same message everywhere.
"""

import os
import re
import threading
from contextlib import contextmanager

import numpy as np
import torch

from ._warn import warn_user

__all__ = ["resolve_device", "placement", "as_tensor", "user_array", "device_or_cpu", "threads",
           "auto_threads", "SMALL_WORK",
           "available_memory", "check_memory"]

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


def _available():
    n_cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    has_mps = torch.backends.mps.is_available()
    return n_cuda, has_mps


def resolve_device(device):
    """Turn a device name into a ``torch.device``, with a clear error.

    Every device is checked against what this torch build and machine offer, here
    rather than at the first tensor operation, whose error names no parameter.

    Parameters
    ----------
    device : str
        'auto' (CUDA when available, else the CPU), 'cpu', 'cuda' or
        'cuda:<index>'; 'mps' is refused by name (the rank readings need float64,
        which Apple's GPUs lack).

    Returns
    -------
    torch.device

    Examples
    --------
    >>> from skrank._device import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    n_cuda, has_mps = _available()
    supported = ["'auto'", "'cpu'"]
    if n_cuda:
        supported += ["'cuda'"] + [f"'cuda:{i}'" for i in range(n_cuda)]
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        problem = "is not a device name"
    elif device.startswith("cuda") and not n_cuda:
        problem = "was requested but CUDA is not available"
    elif device.startswith("cuda") and int(device.partition(":")[2] or 0) >= n_cuda:
        problem = f"was requested but there are only {n_cuda} CUDA device(s)"
    elif device == "mps" and not has_mps:
        problem = "was requested but MPS (Apple GPU) is not available"
    elif device == "mps":
        # every fit would train, then fail: the readings after training are in
        # float64, which MPS does not have
        problem = ("is not supported: skrank reads its ranks in float64, which MPS "
                   "(Apple GPU) does not have; use device='cpu'")
    else:
        problem = None
    if problem:
        raise ValueError(f"device={device!r} {problem}; this torch build on this "
                         f"machine supports {', '.join(supported)}.")
    resolved = torch.device(("cuda" if n_cuda else "cpu") if device == "auto" else device)
    if resolved.type == "cuda" and resolved.index is None:
        # the card the tensors go to, so that a fitted device_ names it (on a
        # machine of several GPUs 'cuda' alone would not say which)
        resolved = torch.device("cuda", torch.cuda.current_device())
    return resolved


def device_or_cpu(saved):
    """``saved`` (a fitted model's ``device_``) as a ``torch.device`` when this
    machine has it, else the CPU, with a warning that says why."""
    try:
        return resolve_device(saved)
    except ValueError:
        pass
    if saved == "mps":
        why = "skrank does not run on MPS"
    elif not str(saved).startswith("cuda"):
        why = "skrank does not know that device"
    elif torch.cuda.is_available():
        why = "this machine has no such CUDA device"
    else:
        why = "CUDA is not available here"
    warn_user(f"The model was trained on {saved!r}, but {why}; it is loaded on the "
              "CPU.", UserWarning)
    return torch.device("cpu")


def placement(module):
    """``{'device': ..., 'dtype': ...}`` of a module's parameters (CPU float32 if none)."""
    for p in module.parameters():
        return {"device": p.device, "dtype": p.dtype}
    return {"device": torch.device("cpu"), "dtype": torch.float32}


def check_dense(a, name="A"):
    """Refuse a torch tensor without dense data by name: torch's own errors
    ("can't convert Sparse layout tensor", "Cannot copy out of meta tensor") say
    nothing of which argument."""
    if a.layout != torch.strided:
        raise TypeError(f"{name} is a sparse torch tensor ({a.layout}), but dense data "
                        "is required. Use .to_dense() to convert it.")
    if a.is_meta:
        raise ValueError(f"{name} is a meta tensor: it has a shape but no data.")


def user_array(a):
    """Data passed as a torch tensor, as a numpy array; anything else as it is.

    Detached from its autograd graph and copied to the CPU, so that a tensor that
    requires grad or lives on a GPU reaches scikit-learn's checks (numpy refuses
    both); bfloat16, which numpy lacks, is widened to float32.
    """
    if not isinstance(a, torch.Tensor):
        return a
    check_dense(a, "Data")
    a = a.detach().cpu()
    return (a.float() if a.dtype == torch.bfloat16 else a).numpy()


def as_tensor(X, module):
    """``X`` as a tensor on the module's device, in its dtype.

    A numpy input is copied: read-only inputs (memmaps) must not become writable
    tensors that share their memory.
    """
    where = placement(module)
    if isinstance(X, torch.Tensor):
        return X.to(**where)
    return torch.tensor(np.asarray(X), **where)


#: Rows times width per network step up to which ``n_threads='auto'`` trains on one
#: thread: a default-width network on up to 1,000 rows. Measured on 2 cores (depth
#: 12, width 64, L-BFGS): one thread was 7% slower than two at 500 rows, 26% at
#: 1,000 and faster at 200; with one other CPU-bound process running, two threads
#: were 2.6x (500 rows) to 5.5x (two moons) slower than one, which did not slow.
SMALL_WORK = 65_536


def auto_threads(work, device):
    """The thread count of ``n_threads='auto'`` for a step over ``work`` = rows x
    width x networks: one thread for small steps, whose matrix products gain little
    from more threads and lose most when another process competes for the cores;
    torch's setting (``None``) for larger steps and off the CPU."""
    if device.type != "cpu" or work > SMALL_WORK:
        return None
    return 1


#: The blocks inside :func:`threads` (an entry per block, newest last) and the
#: setting they found: torch's thread count is one for the whole process.
_THREAD_BLOCKS = []
_THREADS_BEFORE = [None]
_THREADS_LOCK = threading.Lock()


@contextmanager
def threads(n):
    """Run the block with ``n`` CPU threads for torch (``None``: as set), then restore.

    torch uses every core by default; when another CPU-bound process runs, its
    threads wait for each other and a fit slows 2.5-6x (see :data:`SMALL_WORK`).
    torch's setting is one for the process, so blocks that overlap (fits in
    threads of one process, or nested) share one record: a block that ends hands
    the setting to the newest block still running, and the last one restores what
    the first one found (each restoring what it found left the process at one
    thread when two fits overlapped).
    """
    if n is None:
        yield
        return
    entry = (int(n), object())  # the object tells equal settings' blocks apart
    with _THREADS_LOCK:
        if not _THREAD_BLOCKS:
            _THREADS_BEFORE[0] = torch.get_num_threads()
        _THREAD_BLOCKS.append(entry)
        torch.set_num_threads(entry[0])
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREAD_BLOCKS.remove(entry)
            torch.set_num_threads(_THREAD_BLOCKS[-1][0] if _THREAD_BLOCKS
                                  else _THREADS_BEFORE[0])


def available_memory(device):
    """Bytes a new allocation can take on ``device``.

    Parameters
    ----------
    device : torch.device

    Returns
    -------
    int or None
        CUDA: the driver's free memory plus what torch's cache holds unused; CPU:
        the kernel's available memory; ``None`` where it is not known (then nothing
        is checked).
    """
    if device.type == "cuda":
        # blocks torch's caching allocator holds but no tensor uses are free to it
        return (torch.cuda.mem_get_info(device)[0] + torch.cuda.memory_reserved(device)
                - torch.cuda.memory_allocated(device))
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # other POSIX systems that report free pages
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


_FIT_HINT = ("Use a smaller width, depth or n_init, or fewer training rows "
             "(n_noisy_copies, for a denoising autoencoder).")


def check_memory(n_bytes, device, what, hint=_FIT_HINT):
    """Refuse, with a MemoryError that says why, a fit that cannot fit in memory.

    Without it a width of 10**7 fails deep inside torch's allocator, and a width of
    30,000 at depth 40 pages the machine to a halt while its weights are drawn.

    Parameters
    ----------
    n_bytes : float
        What the fit needs at least.
    device : torch.device
    what : str
        What needs it, for the message.
    hint : str, optional
        What to change, for the message (by default, a fit's sizes).

    Raises
    ------
    MemoryError
        When ``n_bytes`` exceeds :func:`available_memory`.
    """
    free = available_memory(device)
    if free is not None and n_bytes > free:
        cpu = " Or fit with device='cpu'." if device.type != "cpu" else ""
        raise MemoryError(f"{what} need about {n_bytes / 2**30:.3g} GiB, and "
                          f"{device.type} memory has {free / 2**30:.3g} GiB available. "
                          f"{hint}{cpu}")
