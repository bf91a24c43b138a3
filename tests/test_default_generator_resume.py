"""Exact resume for a model that never mentions a generator.

``nn.Dropout()`` without a generator registers the process's default generator as its sub-cell
``generator``, so the default generator's seed and offset are Parameters of the model and travel
in its checkpoint. A run SIGKILLed after a checkpoint and resumed in a new process must end with
the uninterrupted run's fingerprint.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r'''
import hashlib, os, signal, sys
import numpy as np
import minicell as mc
from minicell import nn

epochs, checkpoint, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
kill_after = int(sys.argv[4]) if len(sys.argv) > 4 else -1
mc.manual_seed(1234)  # a fresh process: weights and masks come from the default generator
net = nn.SequentialCell(nn.Dense(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Dense(16, 2))
train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params(), 1e-2))
train.set_train()
start = 0
if mode == "resume":
    mc.manual_seed(999)  # whatever the new process does, the checkpoint restores the state
    params = mc.load_checkpoint(checkpoint)
    not_loaded, _ = mc.load_param_into_net(train, params)
    assert not not_loaded, not_loaded
    start = int(params["epoch"].asnumpy()) if "epoch" in params else int(train.optimizer.global_step.asnumpy()) // 8
x = np.linspace(-1, 1, 64 * 4, dtype=np.float32).reshape(64, 4)
y = (x.sum(axis=1) > 0).astype(np.int64)
for epoch in range(start, epochs):
    for b in range(8):
        train(mc.Tensor(x[b * 8:(b + 1) * 8]), mc.Tensor(y[b * 8:(b + 1) * 8]))
    mc.save_checkpoint(train, checkpoint)
    if epoch + 1 == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
digest = hashlib.sha256()
for name, p in train.parameters_and_names():
    digest.update(name.encode()); digest.update(p.asnumpy().tobytes())
print("fingerprint", digest.hexdigest())
'''


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "train_default.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=120, env=env)


def test_sigkilled_run_resumes_to_the_uninterrupted_fingerprint(tmp_path):
    full = run(tmp_path, "4", str(tmp_path / "full.ckpt"), "fresh")
    assert full.returncode == 0, full.stderr
    killed = run(tmp_path, "4", str(tmp_path / "run.ckpt"), "fresh", "2")
    assert killed.returncode == -9, killed.stderr
    resumed = run(tmp_path, "4", str(tmp_path / "run.ckpt"), "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.split()[-1] == full.stdout.split()[-1]


def test_negative_control_a_stale_generator_state_changes_the_result(tmp_path):
    # as if the generator had not been saved: its offset in the checkpoint is reset to 0, so the
    # resumed masks repeat earlier ones and the final parameters must differ
    import numpy as np

    import minicell as mc
    full = run(tmp_path, "4", str(tmp_path / "full.ckpt"), "fresh")
    killed = run(tmp_path, "4", str(tmp_path / "run.ckpt"), "fresh", "2")
    assert killed.returncode == -9
    params = mc.load_checkpoint(str(tmp_path / "run.ckpt"))
    offsets = [k for k in params if k.endswith("generator.offset")]
    assert len(offsets) == 1
    params[offsets[0]] = mc.Parameter(np.uint64(0), name=offsets[0], requires_grad=False)
    mc.save_checkpoint(params, str(tmp_path / "run.ckpt"))
    resumed = run(tmp_path, "4", str(tmp_path / "run.ckpt"), "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.split()[-1] != full.stdout.split()[-1]
