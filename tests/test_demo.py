import subprocess
import sys


def test_demo_pipeline_end_to_end_at_miniature_size(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gltr.cli.main", "demo", "--out", str(tmp_path / "demo"),
                             "--samples", "48", "--classes", "4", "--epochs", "2", "--probe-epochs", "20"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[5/5]" in result.stderr and "Traceback" not in result.stderr
    assert "| linear | ntu120 | xsub | cached |" in result.stdout and "random init" in result.stdout
    assert "pretrained encoder: top-1" in result.stdout
    assert (tmp_path / "demo/results.md").exists() and (tmp_path / "demo/data/prepare.json").exists()
