"""The sandbox a submission's kernel runs in: bubblewrap, with limits.

The kernel sees a read-only view of the system with the course, the home folders, the instructor's
files and every other submission hidden behind empty read-only folders; its only writable places are
its own notebook folder and a private /tmp. It has no network (a fresh network namespace with only
its own loopback), its own IPC, hostname and process tree, and it dies with the grader. Resource
limits (address space, processes, file size) are set with prlimit. The kernel talks to nbgrader over
Unix sockets in a private runtime folder, since it cannot reach the grader's TCP ports.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

from .course import ROOT, CourseError

GUARD = Path(__file__).resolve().parent / "guard.py"  # the kernel's entry point: see grader/guard.py
NOBODY = 65534  # the unprivileged user a sandboxed kernel runs as when grading as root (one at a time)
SANDBOX_UIDS = 200_000  # with --jobs N as root, slot k runs as uid SANDBOX_UIDS + k: limits are per user


@dataclass(frozen=True)
class Limits:
    cell_seconds: int = 60  # one cell's wall time
    notebook_seconds: int = 300  # one submission's wall time, grading included
    memory_bytes: int = 6 * 2**30  # the kernel's address space (torch alone maps about 1.5 GiB)
    processes: int = 512  # processes and threads the kernel may have
    file_bytes: int = 64 * 2**20  # the largest file the kernel may write
    output_bytes: int = 2 * 2**30  # address space of the grading process (bounds what output can cost)


def guarded_kernel_argv() -> list[str]:
    """ipykernel started through grader/guard.py, which keeps the test cells out of the notebook's reach."""
    return [sys.executable, str(GUARD), "-f", "{connection_file}"]


def bwrap() -> str | None:
    return shutil.which("bwrap")


def require_bwrap() -> str:
    path = bwrap()
    if path is None:
        raise CourseError(
            "the sandbox for student code (bubblewrap) is not installed: `apt-get install bubblewrap` "
            "(make install does it where it can), or pass --unsafe-no-sandbox to grade without it"
        )
    return path


def kernel_argv(kernel_dir: Path, runtime_dir: Path, hide: list[Path], limits: Limits, uid: int = NOBODY) -> list[str]:
    """The command that starts one sandboxed ipykernel working in ``kernel_dir``."""
    readable = [Path(sys.prefix), Path(sys.base_prefix), ROOT / "tinyformer", GUARD]  # Python, the package, the guard
    as_root = os.geteuid() == 0
    argv = [require_bwrap(), "--die-with-parent", "--new-session", "--unshare-pid",
            *([] if as_root else ["--unshare-user"]), "--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp"]
    # Hidden (empty folders inside): homes, the usual places of data and other checkouts, the course (with
    # its solutions) and the folder it sits in, the submissions and the results. The system stays readable.
    places = [Path.home(), Path("/home"), Path("/root"), Path("/srv"), Path("/mnt"), Path("/media"), Path("/opt"),
              Path("/var"), ROOT, ROOT.parent, *hide]
    # (not / itself, nor /tmp, already a fresh private folder: a course cloned into /tmp/x hides /tmp/x only)
    hidden = sorted({p.resolve() for p in places if p.exists()} - {Path("/"), Path("/tmp").resolve()}, key=lambda p: len(p.parts))
    for path in hidden:
        argv += ["--perms", "0755", "--tmpfs", str(path)]
    mounts = [("--ro-bind", p.resolve()) for p in readable] + [("--bind", kernel_dir), ("--bind", runtime_dir)]
    made: set[Path] = set()
    for how, path in mounts:
        # the folders leading to a mount inside an empty folder: traversable by the kernel's user
        for parent in reversed(path.parents):
            if parent not in made and any(h in parent.parents for h in [*hidden, Path("/tmp")]):
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        argv += [how, str(path), str(path)]
    for path in hidden:  # after the binds: their mount points are made inside these empty folders first
        argv += ["--remount-ro", str(path)]
    argv += ["--chdir", str(kernel_dir), "--setenv", "HOME", str(kernel_dir),
             "--setenv", "IPYTHONDIR", str(runtime_dir / "ipython"), "--setenv", "MPLCONFIGDIR", str(runtime_dir / "mpl"),
             "--unsetenv", "JPY_PARENT_PID", "--"]
    if as_root:
        # The kernel exempts root from process limits: inside the sandbox, drop to an unprivileged user
        # (who owns the connection file, the runtime folder and the notebook folder), so --nproc holds.
        argv += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]
    argv += ["prlimit", f"--as={limits.memory_bytes}", f"--nproc={limits.processes}", f"--fsize={limits.file_bytes}",
             "--core=0", *guarded_kernel_argv()]
    if as_root:  # hand the connection file (written for root only) and the notebook folder to the kernel's user
        argv = ["sh", "-c", 'owner="$0" file="$1" folder="$2"; shift 2; chown "$owner" "$file" && chown -R "$owner" "$folder" && exec "$@"',
                f"{uid}:{uid}", "{connection_file}", str(kernel_dir), *argv]
    return argv


def write_kernelspec(jupyter: Path, argv: list[str], guard: dict, guard_file: Path, display_name: str) -> None:
    """A kernelspec named python3 under ``jupyter`` (a JUPYTER_PATH entry) that starts ``argv`` with the
    guard's configuration in ``guard_file`` (readable by the kernel's user)."""
    spec = jupyter / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    guard_file.write_text(json.dumps(guard))
    os.chmod(guard_file, 0o644)
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "env": {"GRADER_GUARD": str(guard_file)},
                                                 "display_name": display_name, "language": "python"}))


def install_kernel(config: Config, scratch: Path, kernel_dir: Path, hide: list[Path], limits: Limits,
                   guard: dict, uid: int = NOBODY) -> None:
    """Make nbgrader start its kernel in the sandbox: a kernelspec named python3 first on JUPYTER_PATH,
    a private runtime folder, and Unix-socket transport; ``guard`` is the kernel guard's configuration
    (grader/guard.py). Changes this process's environment."""
    # Unix socket paths are limited to about 100 characters: keep the runtime folder's path short.
    runtime = Path(tempfile.mkdtemp(prefix="gk-", dir="/tmp"))
    atexit.register(shutil.rmtree, runtime, True)
    for folder in (runtime / "ipython", runtime / "mpl"):
        folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # the kernel runs as NOBODY: its runtime folder and notebook folder are its own
        for folder in (runtime, runtime / "ipython", runtime / "mpl"):
            os.chown(folder, uid, uid)
    write_kernelspec(scratch / "jupyter", kernel_argv(kernel_dir, runtime, hide, limits, uid), guard,
                     runtime / "guard.json", "Python 3 (sandboxed)")
    os.environ["JUPYTER_PATH"] = str(scratch / "jupyter")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(runtime / "kernel")
    config.KernelManager.connection_file = str(runtime / "kernel.json")
