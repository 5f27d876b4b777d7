import subprocess
import sys
import time

from facedeblur import __version__
from facedeblur.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as err:
        assert err.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, time; t=time.perf_counter();"
        "from facedeblur.cli import build_parser; build_parser().format_help();"
        "heavy=[m for m in ('torch','cv2','dlib','ray','gradio','lightning') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_entry_point_help_runs():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "facedeblur", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "facedeblur" in out.stdout
    assert time.perf_counter() - start < 30  # sanity only; speed is measured in benchmarks/
