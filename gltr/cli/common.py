"""The command line's shared floor: the app, its one error handler (`command`), printing, the option enums and
help texts. The commands live in one module per stage (data, train, evaluate, export; demo in main)."""
import functools
import importlib
import json
import os
import tarfile
import traceback
import warnings
import zipfile
from enum import Enum
from inspect import signature

import typer
from typer.core import TyperGroup
from rich.console import Console
from rich.progress import ProgressColumn
from rich.text import Text

from gltr.datasets import DATASETS, PKU_CLIPS, ROTATIONS, benchmark_help
from gltr.configs import (FEATURES, FINETUNE_SCHEDULES, POS_INITS, PRECISIONS, PRESETS, PRETRAIN_SCHEDULES, PROTOCOLS,
                          check_options)
from gltr.analysis.show import WHAT as SHOW_WHAT
from gltr.pipeline.synth import WRITERS as SYNTH_FORMATS
from gltr.safety import shown

errors = importlib.import_module(typer.BadParameter.__module__)   # click's exceptions (typer's own copy in typer >= 0.2x)
click_globals = importlib.import_module(typer.BadParameter.__module__.rsplit(".", 1)[0] + ".globals")  # its context

# markup off: no string is ever parsed as markup; print_out()/print_err() print every string through safety.shown
STDERR = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)    # one line per problem, never wrapped
STDOUT = Console(soft_wrap=True, markup=False, highlight=False)


def print_out(*parts, style: str | None = None, end: str = "\n") -> None:
    """Print to stdout; strings literally (control characters replaced), rich objects (tables) as they are."""
    STDOUT.print(*(shown(p, style) if isinstance(p, str) else p for p in parts), end=end)


def print_err(*parts, style: str | None = None) -> None:
    """The same on stderr (progress, warnings, errors)."""
    STDERR.print(*(shown(p, style) if isinstance(p, str) else p for p in parts))


def choices(name: str, values) -> type[Enum]:
    """An option's choices as the Enum typer wants, made from the tuple (or table) that owns them."""
    return Enum(name, {v: v for v in values}, type=str)


Dataset = choices("Dataset", DATASETS)                                      # the dataset table's rows
Bodies = choices("Bodies", dict.fromkeys(r for d in DATASETS.values() for r in d.body_rules))
Clip = choices("Clip", PKU_CLIPS)
Rotation = choices("Rotation", ROTATIONS)
RawKind = choices("RawKind", SYNTH_FORMATS)
Preset = choices("Preset", PRESETS)
PosInit = choices("PosInit", POS_INITS)
Precision = choices("Precision", PRECISIONS)
Schedule = choices("Schedule", PRETRAIN_SCHEDULES)
FinetuneSchedule = choices("FinetuneSchedule", FINETUNE_SCHEDULES)
Protocol = choices("Protocol", PROTOCOLS)
Features = choices("Features", FEATURES)
ShowWhat = choices("ShowWhat", SHOW_WHAT)


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:,.0f} files/s", style="cyan")


DATA_HELP = "prepared dataset: a folder, or a URL prefix (http(s)://…, or pipe:CMD with {} for the path)"
BENCHMARK_HELP = benchmark_help()
CHECKPOINT_HELP = "pretrained checkpoint (.pt: latest.pt or a weights-only epoch-NNNN.pt)"
EVAL_OUT_HELP = "folder for eval/*.json and feature caches [default: the checkpoint's run folder]"
RANDOM_INIT_HELP = "evaluate a randomly initialised encoder instead (the baseline; needs --out)"


def given(**options) -> dict:
    """The options the user gave (not None): the config dataclass owns every default."""
    return {k: v for k, v in options.items() if v is not None}


def default_text(owner, name: str) -> str:
    """'[default: X]' for a help text, read from the owner of the default: a config dataclass, a recipe dict or a
    function."""
    if isinstance(owner, dict):
        value = owner[name]
    elif hasattr(owner, "__dataclass_fields__"):
        value = owner.__dataclass_fields__[name].default
    else:
        value = signature(owner).parameters[name].default
    return f"[default: {value}]"


def dataset_default(field: str) -> str:
    """'[default: the dataset's: 120 for ntu60, ntu120, ...; 300 for nwucla]' for a help text, from the dataset table."""
    by = {}
    for name, info in DATASETS.items():
        by.setdefault(getattr(info, field), []).append(name)
    return "[default: the dataset's: " + "; ".join(f"{value} for {', '.join(names)}" for value, names in by.items()) + "]"


def fail(message: str, code: int = 2):
    """A user error found by the command line itself: one line, exit `code`."""
    print_err(shown("error: ", "red") + shown(message))
    raise typer.Exit(code)


# ----------------------------------------------------------------------------- the one error handler

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
               PermissionError)                                           # exit 2: fix the input and run again
RUN_ERRORS = (OSError, RuntimeError, FloatingPointError, tarfile.TarError, zipfile.BadZipFile, EOFError,
              MemoryError)                                                # exit 1: the work failed


def describe(e: BaseException) -> str:
    """One line saying what failed and why: `<what>: <why>`."""
    text = str(e).strip()
    if "Original Traceback" in text:                 # re-raised from a DataLoader worker: its last line says it
        text = text.splitlines()[-1].split(": ", 1)[-1]
    if isinstance(e, OSError) and e.filename is not None:
        why = e.strerror or text
        text = f"{e.filename}: {why}" + (f" (-> {e.filename2})" if e.filename2 else "")
        if e.errno == 28:
            text += ": the disk is full"
    elif isinstance(e, MemoryError):
        text = "out of memory" + (f": {text}" if text else "")
    elif isinstance(e, tarfile.TarError):
        text = f"not a readable tar file: {text}"
    elif isinstance(e, zipfile.BadZipFile):
        text = f"not a readable zip/npz file: {text}"
    elif isinstance(e, json.JSONDecodeError):
        text = f"not valid JSON: {text}"
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else " ".join(line.strip() for line in lines) if lines else type(e).__name__


NUMPY_WARNINGS = (r"(invalid value|overflow|divide by zero|underflow) encountered|Mean of empty slice|"
                  r"Degrees of freedom <= 0|All-NaN (slice|axis) encountered")   # numpy's RuntimeWarnings: never printed


def debug_asked() -> bool:
    """`gltr --debug` or GLTR_DEBUG=1 (not 0, false, no, off): read from the command line being run, not kept in a
    global."""
    ctx = click_globals.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("debug")) or os.environ.get("GLTR_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


def error_line(e: BaseException) -> tuple[str, int]:
    """(the one line, the exit status) for an exception that ended a command."""
    if isinstance(e, USER_ERRORS):
        return describe(e), 2
    if isinstance(e, RUN_ERRORS):
        return describe(e), 1
    return (f"internal error ({type(e).__name__}: {describe(e)}); please report it with the output of the same "
            f"command run with --debug"), 3


def apply_thread_policy() -> None:
    """The thread policy (gltr.resources) for a command that trains or evaluates: `gltr --threads N` (or
    GLTR_THREADS) if given, read from the command line being run."""
    from gltr import resources
    ctx = click_globals.get_current_context(silent=True)
    resources.apply(ctx.find_root().params.get("threads") if ctx else None)


def handled(fn, compute: bool = False):
    """`fn` (a command, the app's callback) with the command line's one error handler: every error ends as one line
    `error: <what>: <why>`, exit 2 (bad input or options), 1 (the work failed) or 3 (a bug); --debug or
    GLTR_DEBUG=1 shows the traceback instead, with the same exit status. numpy's RuntimeWarnings are not printed:
    a bad option is refused before any arithmetic, and a non-finite loss or result is an error of its own.
    `compute`: a command that trains or evaluates, run under the thread policy."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", NUMPY_WARNINGS, RuntimeWarning)
                if compute:
                    apply_thread_policy()
                return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, errors.UsageError):
            raise
        except Exception as e:
            line, code = error_line(e)
            if debug_asked():
                traceback.print_exc()
            else:
                print_err(shown("error: ", "red") + shown(line))
            raise typer.Exit(code) from None
    return run


def command(name: str | None = None, group=None, compute: bool = False):
    """Register a command of `group` (default: the app) under the one error handler (`handled`); `compute`: it
    trains or evaluates (the thread policy is applied first)."""
    def register(fn):
        return (group or app).command(name)(handled(fn, compute))
    return register


# ----------------------------------------------------------------------------- the app: usage errors are one line too

def usage_line(e: errors.UsageError) -> str:
    """Click's usage error (a value that is not a number, an unknown option or choice, a missing option) as
    `--OPTION: <why>`, without click's usage block."""
    why = " ".join(str(e.message or "").split()).rstrip(".")
    why = why.removeprefix("Value error, ")
    why = why[:1].lower() + why[1:] if why[1:2].islower() else why
    param = getattr(e, "param", None)
    if isinstance(e, errors.NoSuchOption):
        near = f" (did you mean {', '.join(sorted(e.possibilities))}?)" if e.possibilities else ""
        return f"{e.option_name}: no such option{near}"
    if isinstance(e, errors.BadOptionUsage):
        return f"{e.option_name}: {why.replace(f'option {e.option_name!r} ', '')}"
    if param is None:
        return getattr(e, "param_hint", None) and f"{e.param_hint}: {why}" or why
    name = (next((o for o in param.opts if o.startswith("--")), param.opts[0]) if param.param_type_name == "option"
            else (param.name or "argument").upper())
    if isinstance(e, errors.MissingParameter):
        return f"{name}: missing (it is required)"
    return f"{name}: {why}"


class UsageLine(errors.UsageError):
    """A usage error shown as one line `error: --OPTION: <why>` (exit 2)."""

    def show(self, file=None) -> None:
        print_err(shown("error: ", "red") + shown(self.message))


class Group(TyperGroup):
    """The app's group: every usage error, the app's own or a command's, becomes a `UsageLine`; `gltr` alone
    and `--help` still print the help."""
    passed = (UsageLine, getattr(errors, "NoArgsIsHelpError", UsageLine))

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except self.passed:
            raise
        except errors.UsageError as e:
            raise UsageLine(usage_line(e), e.ctx) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except self.passed:
            raise
        except errors.UsageError as e:
            raise UsageLine(usage_line(e), e.ctx) from None


app = typer.Typer(cls=Group, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="GL-Transformer toolkit: prepare skeleton datasets, pretrain, evaluate.")


@app.callback()
@handled
def start(threads: int = typer.Option(None, envvar="GLTR_THREADS",
                                      help="torch threads for training and evaluation [default: one per CPU that "
                                           "other processes leave idle, re-chosen while training]"),
          debug: bool = typer.Option(False, "--debug", help="on an error, show the Python traceback (also "
                                     "GLTR_DEBUG=1) instead of one line")):
    """GL-Transformer toolkit: prepare skeleton datasets, pretrain, evaluate."""
    check_options("gltr", threads=threads)         # applied by the commands that compute (`command(compute=True)`)
