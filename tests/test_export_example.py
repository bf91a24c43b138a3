"""examples/export.py: the CNN example's model written for MindSpore and PyTorch, read back equal."""
import os
import subprocess
import sys
from pathlib import Path

import safetensors.numpy

ROOT = Path(__file__).resolve().parents[1]


def test_export_writes_every_file_and_each_reproduces_the_logits(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "export.py"), "--epochs", "1", "--out",
                          str(tmp_path / "cnn")], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("same logits: True") == 3
    assert sorted(os.listdir(tmp_path)) == ["cnn.ckpt", "cnn.safetensors", "cnn.sample.npz", "cnn.torch.safetensors"]
    torch_names = safetensors.numpy.load_file(tmp_path / "cnn.torch.safetensors")
    assert {"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "10.weight", "10.bias"} <= set(
        torch_names)
    assert not any("generator" in name or "gamma" in name for name in torch_names)
    mindspore_names = safetensors.numpy.load_file(tmp_path / "cnn.safetensors")
    assert {"model.1.gamma", "model.1.moving_variance", "dropout_generator.seed"} <= set(mindspore_names)
