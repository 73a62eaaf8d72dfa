"""The documentation cannot rot: the MkDocs site builds strictly, every runnable block in docs/ runs,
the stock-library snippet runs as written, and README stays a five-minute read."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def runnable_blocks(page: Path) -> list[str]:
    """The ```bash blocks right after a `<!-- runnable -->` line."""
    return re.findall(r"<!-- runnable -->\n```bash\n(.*?)```", page.read_text(), re.S)


def test_readme_is_a_five_minute_read():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for must in ("make demo", "make test", "gltr prepare ntu120", "random weights", "hand-crafted", "docs/"):
        assert must in readme, must


def test_no_page_holds_a_placeholder():
    """Every figure in README and docs/ was filled in from a measurement."""
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found = re.findall(r"\b[A-Z]+(?:_[A-Z]+)*_(?:TIME|LINE|PLACEHOLDER)\b|\bTODO\b|\bTBD\b", page.read_text())
        assert found == [], (page.name, found)


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    result = subprocess.run([str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    pages = {p.stem for p in (ROOT / "docs").glob("*.md")}
    assert {"dataset", "preprocessing", "training", "evaluation", "exports", "benchmarks", "bad-input",
            "results"} <= pages
    for page in pages:                                             # every page is in the site (and in nav)
        assert (tmp_path / "site" / ("" if page == "index" else page) / "index.html").exists(), page


def test_every_runnable_block_in_the_docs_runs(tmp_path):
    pages = [p for p in sorted((ROOT / "docs").glob("*.md")) if runnable_blocks(p)]
    assert pages, "no runnable blocks found"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    ran = 0
    for page in pages:
        folder = tmp_path / page.stem                              # a page's blocks share one fresh folder
        folder.mkdir()
        for block in runnable_blocks(page):
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=folder, env=env,
                                    capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, f"{page.name}:\n{block}\n{result.stderr[-3000:]}"
            ran += block.count("\ngltr ") + block.startswith("gltr ")
    assert ran >= 14
    quick = tmp_path / "quickstart"
    assert (quick / "runs/report.md").read_text().count("| linear |") >= 1
    assert (quick / "sample.png").stat().st_size > 0 and (quick / "exports/nwucla_3danno.pkl").exists()
    report = (quick / "runs/report.md").read_text()
    assert "| fine-tune |" in report and "| kNN-1 |" in report
    assert (quick / "exports/mamp/PKUv2_XSub.npz").exists() and (quick / "runs/pku/eval/knn-xsub-k1.json").exists()


@pytest.mark.parametrize("page", ["README.md", "docs/dataset.md"])
def test_the_stock_library_snippet_runs_as_written(page, synth_ntu_prepared, tmp_path):
    text = (ROOT / page).read_text()
    snippet = re.search(r"needs no gltr.*?```python\n(.*?)```", text, re.S).group(1)
    assert 'root = "data/ntu120"' in snippet and "import gltr" not in snippet
    script = snippet.replace('root = "data/ntu120"', f"root = {str(synth_ntu_prepared)!r}") + \
        "\nprint(len(manifest['sample_id']), motion0.shape, x.shape[1:], y)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("60 (")
