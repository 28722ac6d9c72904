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
SANDBOX_UIDS = 200_000  # with --jobs N as root, slot k runs as a uid of its own (sandbox_uid): limits are per user


def sandbox_uid(slot: int) -> int:
    """The uid the kernels of a batch's worker slot run as, when grading as root: one per concurrent worker, so
    per-user limits (processes) of one submission never touch another's, and apart from another batch's (by
    this process's id) when two run at once on one machine."""
    return SANDBOX_UIDS + (os.getpid() % 4096) * 256 + slot % 256


def release_uid(uid: int, wait_seconds: float = 30) -> None:
    """As root, end what is left of the processes a submission ran as ``uid`` (a fork bomb's children die with
    their sandbox, but not at once) before the next submission runs as it: leftovers would count against its
    process limit, and its kernel could not start."""
    import signal
    import time

    if os.geteuid() != 0:
        return
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        left = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                uids = next(line for line in status.read_text().splitlines() if line.startswith("Uid:")).split()
            except (OSError, StopIteration):
                continue  # ended meanwhile
            if int(uids[1]) == uid:
                left.append(int(status.parent.name))
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.2)


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


def kernel_argv(
    kernel_dir: Path,
    runtime_dir: Path,
    hide: list[Path],
    limits: Limits,
    uid: int = NOBODY,
    command: list[str] | None = None,
    package: Path | None = None,
) -> list[str]:
    """The command that starts one sandboxed ipykernel working in ``kernel_dir`` (or runs ``command`` there, in
    the same sandbox, with the same limits). ``package``: a folder the kernel sees in place of the course's
    tinyformer (grader/references.py: the package without the graded chapter's reference pieces)."""
    readable = [Path(sys.prefix), Path(sys.base_prefix), ROOT / "tinyformer", GUARD]  # Python, the package, the guard
    as_root = os.geteuid() == 0
    argv = [
        require_bwrap(),
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        *([] if as_root else ["--unshare-user"]),
        "--unshare-ipc",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
    ]
    # Hidden (empty folders inside): homes, the usual places of data and other checkouts, the course (with
    # its solutions) and the folder it sits in, the submissions and the results. The system stays readable.
    places = [
        Path.home(),
        Path("/home"),
        Path("/root"),
        Path("/srv"),
        Path("/mnt"),
        Path("/media"),
        Path("/opt"),
        Path("/var"),
        ROOT,
        ROOT.parent,
        *hide,
    ]
    # (not / itself, nor /tmp, already a fresh private folder: a course cloned into /tmp/x hides /tmp/x only)
    hidden = sorted(
        {p.resolve() for p in places if p.exists()} - {Path("/"), Path("/tmp").resolve()}, key=lambda p: len(p.parts)
    )
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
        source = package if package is not None and path == (ROOT / "tinyformer").resolve() else path
        argv += [how, str(source), str(path)]
    for path in hidden:  # after the binds: their mount points are made inside these empty folders first
        argv += ["--remount-ro", str(path)]
    argv += [
        "--chdir",
        str(kernel_dir),
        "--setenv",
        "HOME",
        str(kernel_dir),
        "--setenv",
        "IPYTHONDIR",
        str(runtime_dir / "ipython"),
        "--setenv",
        "MPLCONFIGDIR",
        str(runtime_dir / "mpl"),
        "--unsetenv",
        "JPY_PARENT_PID",
        "--",
    ]
    if as_root:
        # The kernel exempts root from process limits: inside the sandbox, drop to an unprivileged user
        # (who owns the connection file, the runtime folder and the notebook folder), so --nproc holds.
        argv += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]
    argv += [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_bytes}",
        "--core=0",
        *(command or guarded_kernel_argv()),
    ]
    if as_root:  # hand the connection file (written for root only) and the notebook folder to the kernel's user
        argv = [
            "sh",
            "-c",
            'owner="$0" file="$1" folder="$2"; shift 2; chown "$owner" "$file" && chown -R "$owner" "$folder" && exec "$@"',
            f"{uid}:{uid}",
            "{connection_file}",
            str(kernel_dir),
            *argv,
        ]
    return argv


def write_kernelspec(
    jupyter: Path, argv: list[str], guard: dict, guard_file: Path, display_name: str, env: dict | None = None
) -> None:
    """A kernelspec named python3 under ``jupyter`` (a JUPYTER_PATH entry) that starts ``argv`` with the
    guard's configuration in ``guard_file`` (readable by the kernel's user). The kernel is interrupted by a
    message (the kernel signals itself): a signal to the process group the grader started would not reach a
    kernel that bubblewrap runs in a session of its own."""
    spec = jupyter / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    guard_file.write_text(json.dumps(guard))
    os.chmod(guard_file, 0o644)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": argv,
                "env": {"GRADER_GUARD": str(guard_file), **(env or {})},
                "display_name": display_name,
                "language": "python",
                "interrupt_mode": "message",
            }
        )
    )


def install_kernel(
    config: Config,
    scratch: Path,
    kernel_dir: Path,
    hide: list[Path],
    limits: Limits,
    guard: dict,
    uid: int = NOBODY,
    package: Path | None = None,
) -> None:
    """Make nbgrader start its kernel in the sandbox: a kernelspec named python3 first on JUPYTER_PATH,
    a private runtime folder, and Unix-socket transport; ``guard`` is the kernel guard's configuration
    (grader/guard.py), ``package`` what the kernel sees as tinyformer (see kernel_argv). Changes this
    process's environment."""
    # Unix socket paths are limited to about 100 characters: keep the runtime folder's path short.
    runtime = Path(tempfile.mkdtemp(prefix="gk-", dir="/tmp"))
    atexit.register(shutil.rmtree, runtime, True)
    for folder in (runtime / "ipython", runtime / "mpl"):
        folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # the kernel runs as NOBODY: its runtime folder and notebook folder are its own
        for folder in (runtime, runtime / "ipython", runtime / "mpl"):
            os.chown(folder, uid, uid)
    write_kernelspec(
        scratch / "jupyter",
        kernel_argv(kernel_dir, runtime, hide, limits, uid, package=package),
        guard,
        runtime / "guard.json",
        "Python 3 (sandboxed)",
    )
    os.environ["JUPYTER_PATH"] = str(scratch / "jupyter")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(runtime / "kernel")
    config.KernelManager.connection_file = str(runtime / "kernel.json")


# Run by the kernel's Python in the kernel's place: import what the chapters' notebooks import, say from where.
_IMPORT_CHECK = """
import importlib, json, sys
found = {"python": sys.version.split()[0], "versions": {}}
try:
    for name in sys.argv[1:]:
        module = importlib.import_module(name)
        found["versions"][name.split(".")[0]] = getattr(sys.modules[name.split(".")[0]], "__version__", None)
    found["tinyformer"] = sys.modules["tinyformer"].__file__ if "tinyformer" in sys.modules else None
except BaseException as error:
    found["error"] = f"`import {name}` fails: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
print("IMPORT-CHECK " + json.dumps(found))
"""


def _import_check(modules: list[str], hide: list[Path] | None, limits: Limits, uid: int, scratch: Path) -> dict:
    """Run _IMPORT_CHECK with the kernel's Python: in the kernel's sandbox (``hide`` given), or as a plain
    process in an empty folder. Returns what it found: versions, tinyformer's file, or the error."""
    import subprocess

    kernel_dir, runtime = scratch / "kernel", scratch / "runtime"
    for folder in (kernel_dir, runtime):
        folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", _IMPORT_CHECK, *modules]
    if hide is not None:
        if os.geteuid() == 0:
            for folder in (kernel_dir, runtime):
                os.chown(folder, uid, uid)
        placeholder = runtime / "connection.json"  # what the kernel's command hands to its user, as root
        placeholder.touch()
        command = [
            part.replace("{connection_file}", str(placeholder))
            for part in kernel_argv(kernel_dir, runtime, hide, limits, uid, command)
        ]
    try:
        done = subprocess.run(command, cwd=kernel_dir, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return {"error": "importing them took longer than 120 s"}
    line = next((line for line in reversed(done.stdout.splitlines()) if line.startswith("IMPORT-CHECK ")), None)
    if line is None:
        last = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
        return {"error": f"the kernel's Python did not start ({last[-1][:200] if last else f'exit {done.returncode}'})"}
    return json.loads(line.removeprefix("IMPORT-CHECK "))


def check_kernel_environment(modules: list[str], hide: list[Path] | None, limits: Limits, uid: int = NOBODY) -> dict:
    """Before grading: the kernel's Python, in the kernel's sandbox (``hide``; None: no sandbox), imports
    ``modules`` (what the chapters' notebooks import) and finds this course's tinyformer. Raises CourseError,
    saying why and how to fix it, when it does not (a correct notebook would silently score 0). Returns the
    environment the kernel sees (Python and package versions), for the result cache's key."""
    course_package = (ROOT / "tinyformer").resolve()
    with tempfile.TemporaryDirectory(prefix="gk-check-", dir="/tmp") as scratch:
        os.chmod(scratch, 0o755)
        found = _import_check(modules, hide, limits, uid, Path(scratch) / "sandboxed")
        if "error" not in found and Path(found["tinyformer"] or "/").resolve().parent == course_package:
            return found
        outside = _import_check(modules, None, limits, uid, Path(scratch) / "plain") if hide is not None else found
    where = "inside the sandbox" if hide is not None else "in the grading kernel's environment"
    install = f"install this course (`{sys.executable} -m pip install -e {ROOT}`, or `make install` in {ROOT})"
    if "error" not in found:
        problem = (
            f"the grading kernel imports tinyformer from {Path(found['tinyformer']).parent}, not from this "
            f"course's {course_package}: {install}, or run the grader of that checkout"
        )
    elif "error" in outside:
        problem = f"{where}, {found['error']}; it fails outside the sandbox too: {install}"
    elif Path(outside.get("tinyformer") or "/").resolve().parent != course_package:
        problem = (
            f"{where}, {found['error']}: this Python's tinyformer is "
            f"{Path(outside['tinyformer']).parent}, which the sandbox hides: {install}"
        )
    else:
        problem = (
            f"{where}, {found['error']} (outside the sandbox it imports: is --memory-gb, "
            f"{limits.memory_bytes / 2**30:.2g} GB, enough to import torch?)"
        )
    raise CourseError(f"cannot grade: {problem}")
