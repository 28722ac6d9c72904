"""The autograder's kernel: ipykernel, with the test cells run the way the course wrote them.

A submission's code and the tests share one Python process, so a submission could fake a pass by
changing what the tests use: rebinding `check_tensor`, patching `torch.allclose`, `builtins.isinstance`
or `torch.Tensor.__eq__`, registering IPython input or AST transformers that empty the test cells, a
`pre_run_cell` hook, a trace function, or a filter on the kernel's messages that drops errors. The grader
starts each kernel as `python guard.py -f CONNECTION_FILE` (a standalone file: in the sandbox the grader
package is not importable), and this module, before any submitted code runs:

- takes a snapshot of the library functions and classes the tests rely on (torch, numpy, tinyformer,
  the standard library's basics, IPython and the kernel's messaging) and of the builtins;
- runs every test cell (recognised by the SHA-256 of its source, given by the grader) on its own path:
  no IPython transformers, hooks or events; the snapshot restored first and compared afterwards (a change
  made while the test ran fails the test); the names the notebook's own cells imported (`torch`,
  `check_tensor`, ...) bound again to the originals before every statement, and checked afterwards; the
  builtins as they were;
- pins the attributes that carry a test's error to the grader (the shell's traceback methods, the display
  hook's session and socket, the session's send);
- installs an audit hook (PEP 578, cannot be removed) that refuses, from submitted code, trace and
  profile functions, walking the garbage collector, ctypes, building code objects, replacing the code
  or defaults of the tests' helpers, and swapping the class of the kernel's objects.

This raises the cost of cheating from one line to a deliberate attack on the grader; it is not a proof.
What is left (documented in the instructor guide): code that reaches the guard's own frames and objects.
Configuration comes from the JSON file named by GRADER_GUARD: {"test_cells": [sha256, ...],
"bindings": [[name, module, attribute or null], ...], "trusted": [folder, ...], "language": "en" or "zh_CN"};
a test's failure message is shown in the notebook's language (tinyformer.i18n).
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import json
import os
import sys
import types

PROTECTED = (
    "builtins",
    "math",
    "cmath",
    "operator",
    "functools",
    "itertools",
    "collections",
    "copy",
    "random",
    "numbers",
    "torch",
    "numpy",
    "tinyformer",
    "IPython",
    "ipykernel",
    "jupyter_client",
    "zmq",
    "tornado",
)
# whose classes are pinned too (torch.Tensor, nn.Module, nn.Linear, ...: what the tests call methods on); other
# libraries' classes change lazily as torch imports its parts, and the kernel's own objects are locked instead
CLASS_MODULES = ("torch", "torch.nn", "torch.nn.functional", "torch.nn.modules.module", "torch.nn.parameter")
_compile, _exec, _isinstance, _getattr, _id = compile, exec, isinstance, getattr, id
_MISSING = object()


class TamperError(Exception):
    """A submission changed what the tests rely on."""


def _protected(name: object) -> bool:
    return _isinstance(name, str) and (name in PROTECTED or name.split(".")[0] in PROTECTED)


class Snapshot:
    """The original functions and classes of the protected modules: restore them, or say what changed."""

    def __init__(self, trusted_file) -> None:
        self.trusted_file = trusted_file
        modules, classes, defaults = {}, {}, {}
        for name, module in list(sys.modules.items()):
            if not _protected(name) or not _isinstance(module, types.ModuleType):
                continue
            try:
                namespace = dict(vars(module))
            except TypeError:
                continue
            kept = {
                k: v
                for k, v in namespace.items()
                if _isinstance(v, (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType))
            }
            modules[name] = (module, types.MappingProxyType(kept))
            for value in kept.values():
                if (
                    _isinstance(value, type)
                    and (name in CLASS_MODULES or name.startswith("tinyformer"))
                    and value not in classes
                ):
                    try:
                        classes[value] = types.MappingProxyType(dict(vars(value)))
                    except TypeError:
                        pass
                if _isinstance(value, types.FunctionType) and _protected(value.__module__):
                    defaults[value] = (value.__defaults__, types.MappingProxyType(dict(value.__kwdefaults__ or {})))
        self.modules = types.MappingProxyType(modules)
        self.classes = types.MappingProxyType(classes)
        self.defaults = types.MappingProxyType(defaults)
        self.builtins = types.MappingProxyType(dict(vars(builtins)))

    def replaced(self, now: object, original: object) -> bool:
        """``now`` is not ``original``, nor a wrapper of it written in a library (torch wraps some of its own
        functions when it first imports its compiler, for instance)."""
        for _ in range(4):
            if now is original:
                return False
            code = _getattr(now, "__code__", None)
            if code is None or not self.trusted_file(code.co_filename):
                return True
            now = _getattr(now, "__wrapped__", None)
        return True

    def changes(self, restore: bool) -> list[str]:
        """What differs from the snapshot (put back when ``restore``)."""
        changed = []
        for name, (module, kept) in self.modules.items():
            if sys.modules.get(name, module) is not module:
                changed.append(f"sys.modules[{name!r}]")
                if restore:
                    sys.modules[name] = module
            namespace = vars(module)
            for key, value in kept.items():
                if self.replaced(namespace.get(key, _MISSING), value):
                    changed.append(f"{name}.{key}")
                    if restore:
                        namespace[key] = value
        for cls, kept in self.classes.items():
            namespace = vars(cls)
            for key, value in kept.items():
                if self.replaced(namespace.get(key, _MISSING), value):
                    changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
                    if restore:
                        try:
                            type.__setattr__(cls, key, value)
                        except (TypeError, AttributeError):
                            pass
            for key in namespace.keys() - kept.keys():  # an addition that hides what a base class defines
                if key != "__doc__" and any(key in vars(base) for base in cls.__mro__[1:]):
                    changed.append(f"{cls.__module__}.{cls.__qualname__}.{key} (added)")
                    if restore:
                        try:
                            type.__delattr__(cls, key)
                        except (TypeError, AttributeError):
                            pass
        for function, (positional, keywords) in self.defaults.items():
            if function.__defaults__ != positional or (function.__kwdefaults__ or {}) != dict(keywords):
                changed.append(f"the defaults of {function.__module__}.{function.__qualname__}")
                if restore:
                    object.__setattr__(function, "__defaults__", positional)
                    object.__setattr__(function, "__kwdefaults__", dict(keywords) or None)
        namespace = vars(builtins)
        for key, value in self.builtins.items():
            if namespace.get(key, _MISSING) is not value:
                changed.append(f"builtins.{key}")
                if restore:
                    namespace[key] = value
        return changed


class _Held:
    """A class attribute of a locked object: reads give what the attribute was when the lock was put on;
    writes from the kernel's own code go through, writes from submitted code fail."""

    def __init__(self, name: str, values: dict, is_learner) -> None:
        self.name, self.values, self.is_learner = name, values, is_learner

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        try:
            return self.values[_id(obj)][self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, obj, value) -> None:
        if self.is_learner():
            raise PermissionError(
                f"the autograder's kernel does not let a notebook change {type(obj).__name__}.{self.name}"
            )
        self.values.setdefault(_id(obj), {})[self.name] = value

    def __delete__(self, obj) -> None:
        raise PermissionError(
            f"the autograder's kernel does not let a notebook delete {type(obj).__name__}.{self.name}"
        )


def lock(obj: object, names: tuple[str, ...], values: dict, keep: list, is_learner) -> None:
    """Pin these attributes of ``obj`` (methods as bound now, objects as they are now): the ones that carry
    a test's error to the grader, all set once when the kernel starts."""
    cls = type(obj)
    held = {}
    for name in names:
        try:
            held[name] = _getattr(obj, name)
        except AttributeError:
            continue
    values[_id(obj)] = held
    keep.append(obj)  # the ids stay valid
    namespace = {name: _Held(name, values, is_learner) for name in held}
    namespace["__module__"] = cls.__module__
    try:
        obj.__class__ = type(cls.__name__, (cls,), namespace)
    except TypeError:
        del values[_id(obj)]


def main() -> None:
    if sys.path and sys.path[0] in ("", os.path.dirname(os.path.abspath(__file__))):
        del sys.path[0]  # as ipykernel_launcher does: the kernel's imports do not come from here
    with open(os.environ["GRADER_GUARD"]) as handle:
        config = json.load(handle)
    tests = frozenset(config["test_cells"])
    # the notebook's language (its Chinese edition gets its messages in Chinese: tinyformer.i18n)
    os.environ["TINYFORMER_LANGUAGE"] = config.get("language") or "en"
    try:
        from tinyformer.i18n import translate
    except ImportError:

        def translate(text: str) -> str:
            return text

    trusted = tuple(
        os.path.join(os.path.realpath(p), "")
        for p in [sys.prefix, sys.base_prefix, sys.exec_prefix, *config.get("trusted", [])]
    )
    here = os.path.abspath(__file__)

    for _, module, _ in config["bindings"]:  # import what the notebook's own cells import, before any submission
        try:
            importlib.import_module(module)
        except Exception:
            pass
    try:
        import tqdm  # no monitor thread: a grading kernel needs no thread of tqdm's

        tqdm.tqdm.monitor_interval = 0
    except ImportError:
        pass
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelapp import IPKernelApp
    from ipykernel.zmqshell import ZMQInteractiveShell
    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult
    from traitlets import Type

    getframe, sha256 = sys._getframe, hashlib.sha256

    def trusted_file(name: str) -> bool:
        return name == here or name.startswith("<frozen ") or name.startswith(trusted)

    def learner_on_stack() -> bool:
        frame = getframe(1)
        while frame is not None:
            if not trusted_file(frame.f_code.co_filename):
                return True
            frame = frame.f_back
        return False

    transformer = TransformerManager()  # IPython's own cleanup (magics, %%), never the notebook's additions
    values: dict = {}
    kept: list = []

    def resolve(module: str, attribute: str | None):
        found = sys.modules.get(module) or importlib.import_module(module)
        return found if attribute is None else _getattr(found, attribute)

    bindings = {}
    for name, module, attribute in config["bindings"]:
        try:
            bindings[name] = resolve(module, attribute)
        except Exception:
            pass
    bindings = types.MappingProxyType(bindings)

    def is_test(cell: str) -> bool:
        return sha256(cell.encode()).hexdigest() in tests

    class GuardedShell(ZMQInteractiveShell):
        def transform_cell(self, raw_cell):
            if is_test(raw_cell):
                return raw_cell  # the notebook's input transformers never see a test cell
            return super().transform_cell(raw_cell)

        def run_cell(self, raw_cell, store_history=False, silent=False, shell_futures=True, cell_id=None, **kwargs):
            if is_test(raw_cell):
                return run_test_cell(self, raw_cell, store_history, silent, cell_id)
            return super().run_cell(raw_cell, store_history, silent, shell_futures, cell_id=cell_id, **kwargs)

        async def run_cell_async(self, raw_cell, store_history=False, silent=False, shell_futures=True, **kwargs):
            if is_test(raw_cell):
                return run_test_cell(self, raw_cell, store_history, silent, kwargs.get("cell_id"))
            return await super().run_cell_async(raw_cell, store_history, silent, shell_futures, **kwargs)

    def run_test_cell(shell, raw_cell: str, store_history: bool, silent: bool, cell_id):
        """One test cell, statement by statement, in the notebook's namespace (tests may rebind a learner's
        name on purpose) with the notebook's imported names bound again to the originals before each one."""
        import ast

        result = ExecutionResult(ExecutionInfo(raw_cell, store_history, silent, True, cell_id))
        if store_history:
            shell.execution_count += 1
        user_ns = shell.user_ns
        saved_builtins = user_ns.get("__builtins__", builtins)
        pristine: dict = {}  # the builtins the test's statements see, filled afresh before each
        try:
            snapshot.changes(restore=True)
            tree = ast.parse(transformer.transform_cell(raw_cell), "<test cell>")
            # a test may put its own stand-in under an imported name (to count calls, say): leave those alone
            own = {
                node.id for node in ast.walk(tree) if _isinstance(node, ast.Name) and _isinstance(node.ctx, ast.Store)
            }
            own |= {
                node.slice.value
                for node in ast.walk(tree)
                if _isinstance(node, ast.Subscript)
                and _isinstance(node.value, ast.Call)
                and _getattr(node.value.func, "id", None) == "globals"
                and _isinstance(node.slice, ast.Constant)
            }
            rebound = {name: value for name, value in bindings.items() if name not in own}
            user_ns.update(bindings)
            for statement in tree.body:
                user_ns.update(rebound)
                pristine.clear()
                pristine.update(snapshot.builtins)
                user_ns["__builtins__"] = pristine
                _exec(_compile(ast.Module([statement], []), "<test cell>", "exec"), user_ns)
            changed = snapshot.changes(restore=True)
            changed += [name for name, value in rebound.items() if user_ns.get(name, _MISSING) is not value]
            if changed:
                raise TamperError(
                    "the submission changed what the tests use while they ran: " + ", ".join(sorted(set(changed))[:5])
                )
        except BaseException as error:  # noqa: BLE001 (SystemExit and KeyboardInterrupt too: the test failed)
            result.error_in_exec = error
            if (
                _isinstance(error, AssertionError)
                and not _getattr(error, "translated", False)
                and error.args
                and _isinstance(error.args[0], str)
            ):  # a test's own message, in the notebook's language
                error.args = (translate(error.args[0]), *error.args[1:])
            shell.showtraceback()
        finally:
            user_ns["__builtins__"] = saved_builtins
            user_ns.update(bindings)
        return result

    class GuardedKernel(IPythonKernel):
        shell_class = Type(GuardedShell)

    # ERROR: a learner's self-check should not print the kernel's note on local TCP transport
    app = IPKernelApp.instance(kernel_class=GuardedKernel, log_level=40)
    app.initialize(sys.argv[1:])
    import warnings

    with warnings.catch_warnings():  # reading every torch module's names wakes deprecated aliases: no warnings
        warnings.simplefilter("ignore")
        snapshot = Snapshot(trusted_file)
    kernel = app.kernel
    shell = kernel.shell
    pinned = [  # a test's error goes: shell.showtraceback -> displayhook.session.send(displayhook.pub_socket, ...)
        (
            shell,
            (
                "run_cell",
                "run_cell_async",
                "transform_cell",
                "showtraceback",
                "_showtraceback",
                "displayhook",
                "display_pub",
                "InteractiveTB",
            ),
        ),
        (shell.displayhook, ("session", "pub_socket", "set_parent")),
        (shell.display_pub, ("session", "pub_socket", "publish")),
        (kernel.session, ("send", "serialize", "sign", "msg", "msg_header", "pack", "auth", "key", "digest_mod")),
    ]
    for obj, names in pinned:
        if _id(obj) not in values:
            lock(obj, names, values, kept, learner_on_stack)
    locked = frozenset(_id(o) for o in kept)
    helpers = frozenset(snapshot.defaults)

    def top_is_learner() -> bool:
        frame = getframe(2)  # 0: this function, 1: the hook, 2: the code that raised the event
        return frame is not None and not trusted_file(frame.f_code.co_filename)

    refused_from_learner = {
        "sys.settrace",
        "sys.setprofile",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "code.__new__",
        "marshal.loads",
        "sys._current_frames",
    }

    def audit(event: str, args: tuple) -> None:
        if event == "sys.addaudithook":
            raise PermissionError("the autograder's kernel does not let a notebook add audit hooks")
        if event in refused_from_learner or event.startswith("ctypes."):
            if top_is_learner():
                raise PermissionError(f"the autograder's kernel does not let a notebook use {event}")
        elif event == "object.__setattr__":
            obj, name = args[0], args[1]
            if (
                (name == "__class__" and _id(obj) in locked)
                or (
                    name in ("__code__", "__defaults__", "__kwdefaults__")
                    and _isinstance(obj, types.FunctionType)
                    and obj in helpers
                )
            ) and learner_on_stack():
                raise PermissionError(f"the autograder's kernel does not let a notebook change {name} here")
        elif (
            event == "compile"
            and len(args) > 1
            and _isinstance(args[1], str)
            and trusted_file(args[1])
            and top_is_learner()
        ):
            raise PermissionError("the autograder's kernel does not let a notebook compile code as a library file")

    sys.addaudithook(audit)
    app.start()


if __name__ == "__main__":
    main()
