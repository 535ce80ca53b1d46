"""Policy checkpoints are data (issue 13, item 9): their metadata is checked against a schema with
bounds before anything is built, and the environment they name is never a module to import."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from drid.decide.rl.agent import load_agent
from drid.decide.rl.common import MAX_PARAMETERS, CheckpointError, check_network_size, read_checkpoint, registered_env_id, write_checkpoint
from drid.decide.rl.train import evaluate_policy
from drid.errors import ConfigError

BUNDLED = Path(__file__).resolve().parents[2] / "drid" / "decide" / "models" / "cartpole-ppo.npz"


@pytest.fixture(scope="module")
def bundled():
    meta, arrays = read_checkpoint(BUNDLED)
    meta = {k: v for k, v in meta.items() if k != "format"}
    return meta, arrays


def crafted(tmp_path, bundled, **changes):
    """The bundled policy with its metadata changed."""
    meta, arrays = bundled
    meta = json.loads(json.dumps(meta))
    for key, value in changes.items():
        node, *rest = key.split(".")
        if rest:
            meta[node][rest[0]] = value
        else:
            meta[key] = value
    return write_checkpoint(tmp_path / "crafted.npz", meta, arrays)


def test_an_environment_named_by_a_checkpoint_is_never_a_module_to_import(tmp_path, bundled, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evil_env_module.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = crafted(tmp_path, bundled, env="evil_env_module:CartPole-v1")
    with pytest.raises(CheckpointError, match=r"names the environment 'evil_env_module:CartPole-v1', which would import module "
                                              r"'evil_env_module'; drid does not import modules named by a checkpoint \(give --env"):
        evaluate_policy(path, episodes=1)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="which gymnasium has not registered"):
        registered_env_id("NoSuchEnv-v0", "checkpoint x")
    assert registered_env_id("CartPole-v1", "x") == "CartPole-v1"
    assert registered_env_id("drid.sources.cartpole:CartPoleFrames-v1", "x")  # drid's own, installed code


def test_an_environment_the_user_names_is_used(tmp_path, bundled):
    path = crafted(tmp_path, bundled, env="evil_env_module:CartPole-v1")
    result = evaluate_policy(path, "CartPole-v1", episodes=2)  # --env on the command line wins over the file
    assert result["env"] == "CartPole-v1" and result["mean"] > 400


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"config.hidden": [40000, 40000]}, r"metadata: ppo: hyperparameter hidden\[0\]: Input should be less than or equal to 8192"),
        ({"config.hidden": [64] * 20}, r"hidden: List should have at most 8 items"),
        ({"obs_dim": 10**9}, r"metadata obs_dim: Input should be less than or equal to 65536"),
        ({"obs_dim": "four"}, r"metadata obs_dim: Input should be a valid integer"),
        ({"algo": "a2c"}, r"metadata algo: Input should be 'dqn' or 'ppo'"),
        ({"action": {"kind": "discrete", "n": 0}}, r"metadata action: Value error, a discrete action space needs n >= 1"),
        ({"action": "left"}, r"metadata action: Input should be a valid dictionary"),
        ({"env_kwargs": {"x": {"nested": object.__name__}}}, r"metadata env_kwargs.x"),
        ({"rng": {"bit_generator": "PCG64", "state": "garbage"}}, r"metadata rng is not a random generator state"),
        ({"steps": -5}, r"metadata steps: Input should be greater than or equal to 0"),
        ({"config.n_envs": 10**9}, r"hyperparameter n_envs: Input should be less than or equal to 4096"),
        ({"config.n_steps": 900_000, "config.n_envs": 4000}, r"a rollout of n_steps=900000 x n_envs=4000 holds [\d,]+ numbers; drid allocates at most 50,000,000"),
    ],
)
def test_malformed_metadata_is_a_one_line_checkpoint_error(tmp_path, bundled, changes, message):
    path = crafted(tmp_path, bundled, **changes)
    with pytest.raises(CheckpointError, match=message) as info:
        load_agent(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_networks_too_large_to_build_are_refused_before_tensorflow_allocates():
    with pytest.raises(ConfigError, match=rf"has 134,\d+,\d+ weights; drid builds at most {MAX_PARAMETERS:,}"):
        check_network_size([4, 8192, 8192, 8192, 2])
    with pytest.raises(ConfigError, match="each must be between 1 and 8192"):
        check_network_size([4, 40000, 40000, 2])
    with pytest.raises(ConfigError, match="at most 8"):
        check_network_size([4, *[16] * 9, 2])
    check_network_size([4, 64, 64, 2])


def _npz(path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name + ".npy", data)
    return path


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def test_arrays_are_checked_by_their_headers_before_they_are_read(tmp_path, bundled):
    meta = _npy(np.frombuffer(json.dumps({"format": "drid-policy/1", **bundled[0]}).encode(), dtype=np.uint8))
    # a header that declares 8 exabytes (and a file of a few hundred bytes)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**9)})
    huge = _npz(tmp_path / "huge.npz", {"__meta__": meta, "net/policy/0": header.getvalue()})
    with pytest.raises(CheckpointError, match=r"declares \d+\.\d GiB of arrays; drid reads at most 4 GiB"):
        read_checkpoint(huge)
    pickled = _npz(tmp_path / "pickled.npz", {"__meta__": meta, "net/policy/0": _npy(np.array([{"a": 1}], dtype=object))})
    with pytest.raises(CheckpointError, match=r"array 'net/policy/0' has dtype object; checkpoints hold numbers only"):
        read_checkpoint(pickled)
    listed = _npz(tmp_path / "listed.npz", {"__meta__": _npy(np.frombuffer(b"[1, 2]", dtype=np.uint8))})
    with pytest.raises(CheckpointError, match=r"metadata is a list, not a record"):
        read_checkpoint(listed)
    (tmp_path / "truncated.npz").write_bytes(BUNDLED.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="is corrupt or not a drid policy"):
        read_checkpoint(tmp_path / "truncated.npz")


def test_the_bundled_policy_passes_the_checks_and_balances(bundled):
    result = evaluate_policy(BUNDLED, episodes=3)
    assert result["env"] == "drid.sources.cartpole:CartPoleFrames-v1" and result["mean"] == 500.0
