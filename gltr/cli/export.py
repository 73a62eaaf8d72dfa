"""`gltr export pyskl|ctrgcn|mamp`: the formats other skeleton toolkits read."""
from pathlib import Path

import typer

from gltr.cli.common import app, command, default_text, given, print_out, print_err
from gltr.configs import check_options
from gltr.export.ctrgcn import export_ctrgcn as run_ctrgcn


export_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                         help="Write a prepared dataset in the formats other skeleton toolkits read.")
app.add_typer(export_app, name="export")


@command("pyskl", group=export_app)
def export_pyskl(data: Path = typer.Argument(..., help="prepared dataset"),
                 out: Path = typer.Option(..., help="the annotation file to write, e.g. ntu120_3danno.pkl"),
                 overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out that gltr exported")):
    """pyskl / mmaction2 3D skeleton annotations (split + annotations, keypoint [M, T, V, 3]) in one pickle."""
    from gltr.export.pyskl import export_pyskl as run_export
    r = run_export(data, out, overwrite=overwrite)
    print_out(f"{r['samples']:,} samples -> {r['file']} ({r['bytes'] / 1e6:.1f} MB); splits: "
                      + ", ".join(f"{k} {v:,}" for k, v in r["splits"].items()))


@command("ctrgcn", group=export_app)
def export_ctrgcn(data: Path = typer.Argument(..., help="prepared NTU dataset (ntu60 or ntu120)"),
                  out: Path = typer.Option(..., help="folder for NTU60_CS.npz / NTU60_CV.npz or NTU120_CSub.npz / NTU120_CSet.npz"),
                  raw: Path = typer.Option(None, help="the raw files [default: the folder prepare read, from prepare.json]"),
                  workers: int = typer.Option(None, help="processes parsing raw files " + default_text(run_ctrgcn, "workers")),
                  overwrite: bool = typer.Option(False, "--overwrite", help="replace .npz files in --out that gltr exported")):
    """CTR-GCN's .npz files (x float32 [N, T, 150], y one-hot), from the raw files with CTR-GCN's denoising."""
    check_options("export ctrgcn", workers=workers)
    written = run_ctrgcn(data, out, raw, overwrite=overwrite, **given(workers=workers),
                         log=lambda line: print_err(line))
    for name, r in written.items():
        print_out(f"{out / name}: {r['train']:,} train, {r['test']:,} test, {r['frames']} frames")


@command("mamp", group=export_app)
def export_mamp(data: Path = typer.Argument(..., help="prepared PKU-MMD dataset (pkummd1 or pkummd2)"),
                out: Path = typer.Option(..., help="folder for PKUv1_XSub.npz / PKUv1_XView.npz or PKUv2_XSub.npz / "
                                         "PKUv2_XView.npz"),
                raw: Path = typer.Option(None, help="the raw folder [default: the folder prepare read, from prepare.json]"),
                overwrite: bool = typer.Option(False, "--overwrite", help="replace .npz files in --out that gltr exported")):
    """MAMP's PKU-MMD .npz files (x float32 [N, 300, 150], y one-hot with 51 columns), from the raw sequences."""
    from gltr.export.mamp import export_mamp as run_export
    written = run_export(data, out, raw, overwrite=overwrite, log=lambda line: print_err(line))
    for name, r in written.items():
        print_out(f"{out / name}: {r['train']:,} train, {r['test']:,} test")
