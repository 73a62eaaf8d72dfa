"""The command line's shared floor: the app, its one error handler (`command`), printing, the option enums and
help texts. The commands live in one module per stage (data, train, evaluate, export; demo in main)."""
import functools
import json
import os
import tarfile
import zipfile
from enum import Enum
from inspect import signature

import typer
from rich.console import Console
from rich.progress import ProgressColumn
from rich.text import Text

from gltr.configs import PRECISIONS
from gltr.safety import shown


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="GL-Transformer toolkit: prepare skeleton datasets, pretrain, evaluate.")
# markup off: no string is ever parsed as markup; say()/tell() print every string through safety.shown
console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)   # one line per problem, never wrapped
out_console = Console(soft_wrap=True, markup=False, highlight=False)


def say(*parts, style: str | None = None, end: str = "\n") -> None:
    """Print to stdout; strings literally (control characters replaced), rich objects (tables) as they are."""
    out_console.print(*(shown(p, style) if isinstance(p, str) else p for p in parts), end=end)


def tell(*parts, style: str | None = None) -> None:
    """The same on stderr (progress, warnings, errors)."""
    console.print(*(shown(p, style) if isinstance(p, str) else p for p in parts))


class Dataset(str, Enum):
    ntu60 = "ntu60"
    ntu120 = "ntu120"
    nwucla = "nwucla"
    pkummd1 = "pkummd1"
    pkummd2 = "pkummd2"


class Clip(str, Enum):
    mamp = "start:end"
    aimclr = "start-1:end"


class Bodies(str, Enum):
    first2 = "first2"
    energy = "energy"
    denoise = "denoise"


class Rotation(str, Enum):
    sequence = "sequence"
    per_frame = "per-frame"


class RawKind(str, Enum):
    ntu = "ntu"
    nwucla = "nwucla"
    pkummd1 = "pkummd1"
    pkummd2 = "pkummd2"


class Preset(str, Enum):
    ntu = "ntu"
    nwucla = "nwucla"
    small = "small"
    tiny = "tiny"


class Features(str, Enum):
    encoder = "encoder"
    handcrafted = "handcrafted"


class Schedule(str, Enum):
    exp = "exp"
    cosine = "cosine"


Precision = Enum("Precision", {p: p for p in PRECISIONS}, type=str)


class PosInit(str, Enum):
    zeros = "zeros"
    sinusoid = "sinusoid"


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:,.0f} files/s", style="cyan")


class Protocol(str, Enum):
    cached = "cached"
    reference = "reference"


class ShowWhat(str, Enum):
    joints = "joints"
    motion = "motion"


DATA_HELP = "prepared dataset: a folder, or a URL prefix (http(s)://…, or pipe:CMD with {} for the path)"
BENCHMARK_HELP = "benchmark: xsub / xview (ntu60), xsub / xset (ntu120), view (nwucla)"
CHECKPOINT_HELP = "pretrained checkpoint (.pt: latest.pt or a weights-only epoch-NNNN.pt)"
EVAL_OUT_HELP = "folder for eval/*.json and feature caches [default: the checkpoint's run folder]"
RANDOM_INIT_HELP = "evaluate a randomly initialised encoder instead (the baseline; needs --out)"


def given(**options) -> dict:
    """The options the user gave (not None): the config dataclass owns every default."""
    return {k: v for k, v in options.items() if v is not None}


def default(owner, name: str) -> str:
    """'[default: X]' for a help text, read from the owner of the default: a config dataclass or a function."""
    if hasattr(owner, "__dataclass_fields__"):
        value = owner.__dataclass_fields__[name].default
    else:
        value = signature(owner).parameters[name].default
    return f"[default: {value}]"


COMPUTE = {"pretrain", "linear", "knn", "semi", "finetune", "attention", "evidence", "demo"}   # commands that set the thread policy


@app.callback()
def start(ctx: typer.Context,
          threads: int = typer.Option(None, min=1, envvar="GLTR_THREADS",
                                      help="torch threads for training and evaluation [default: one per CPU that "
                                           "other processes leave idle, re-chosen while training]"),
          debug: bool = typer.Option(False, "--debug", help="on an error, show the Python traceback (also "
                                     "GLTR_DEBUG=1) instead of one line")):
    """GL-Transformer toolkit: prepare skeleton datasets, pretrain, evaluate."""
    from gltr import resources
    DEBUG["on"] = debug or os.environ.get("GLTR_DEBUG", "") not in ("", "0")
    if ctx.invoked_subcommand in COMPUTE:
        resources.apply(threads)


def fail(message: str, code: int = 2):
    """A user error found by the command line itself: one line, exit `code`."""
    tell(shown("error: ", "red") + shown(message))
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


DEBUG = {"on": False}       # set by --debug / GLTR_DEBUG in the callback, before any command runs


def error_line(e: BaseException) -> tuple[str, int]:
    """(the one line, the exit status) for an exception that ended a command."""
    if isinstance(e, USER_ERRORS):
        return describe(e), 2
    if isinstance(e, RUN_ERRORS):
        return describe(e), 1
    return (f"internal error ({type(e).__name__}: {describe(e)}); please report it with the output of the same "
            f"command run with --debug"), 3


def command(name: str | None = None, group=None):
    """Register a command of `group` (default: the app) whose every error ends as one line `error: <what>: <why>`,
    exit 2 (bad input or options), 1 (the work failed) or 3 (a bug); --debug or GLTR_DEBUG=1 shows the
    traceback instead. This is the command line's one error handler."""
    def register(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (typer.Exit, typer.Abort, typer.BadParameter):
                raise
            except Exception as e:
                if DEBUG["on"]:
                    raise
                line, code = error_line(e)
                tell(shown("error: ", "red") + shown(line))
                raise typer.Exit(code) from None
        return (group or app).command(name)(run)
    return register
