"""hubmixin demo: save, shard, push and load models through a local Hub-compatible server.

Run it with `bash scripts/setup.sh && .venv/bin/python examples/demo.py`. Nothing leaves this machine: the Hub
is `hubmixin_core.testing.LocalHub` on 127.0.0.1, spoken to by the real `huggingface_hub` client.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.utils.tqdm import disable_progress_bars
from tinylib import LinearRegressor, TinyClassifier
from tinylib.linear import RegressorConfig

from hubmixin_core.testing import LocalHub


def demo_torch(hub: LocalHub, workdir: Path) -> None:
    """A PyTorch classifier: sharded local save, push, load from the Hub, same outputs."""
    torch.manual_seed(0)
    model = TinyClassifier(features=16, classes=4, hidden=64).eval()
    inputs = torch.randn(8, 16)

    local = workdir / "tiny-classifier"
    model.save_pretrained(local, max_shard_size="4KB")
    print(f"saved locally: {sorted(p.name for p in local.iterdir())}")
    reloaded = TinyClassifier.from_pretrained(local)
    assert torch.equal(reloaded(inputs), model(inputs))

    repo_id = f"{hub.username}/tiny-classifier"
    commit = model.push_to_hub(repo_id, commit_message="Add tiny classifier", max_shard_size="4KB")
    print(f"pushed: {commit.commit_url}")
    print(f"files on the Hub: {sorted(HfApi().list_repo_files(repo_id))}")
    loaded = TinyClassifier.from_pretrained(repo_id)
    assert torch.equal(loaded(inputs), model(inputs)), "outputs differ after a Hub round trip"
    print(f"loaded from the Hub: {loaded._hub_mixin_config}, training={loaded.training}")
    card = ModelCard.load(repo_id)
    print(f"model card: library={card.data.library_name} tags={card.data.tags}")

    half = TinyClassifier.from_pretrained(repo_id, dtype=torch.bfloat16)
    print(f"loaded in bfloat16: {half.head.weight.dtype}")


def demo_numpy(hub: LocalHub) -> None:
    """A numpy model on the framework-neutral mixin, with a dataclass config."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3))
    model = LinearRegressor(RegressorConfig(features=3, l2=0.1)).fit(x, x @ np.array([2.0, -1.0, 0.5]))
    repo_id = f"{hub.username}/linear-regressor"
    model.push_to_hub(repo_id, private=True)
    loaded = LinearRegressor.from_pretrained(repo_id)
    assert loaded.config == model.config and np.array_equal(loaded.predict(x), model.predict(x))
    print(f"numpy regressor round trip (private repo): config={loaded.config}, coef={np.round(loaded.coef, 3)}")


def main() -> None:
    """Run both demos against a fresh local Hub."""
    disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp, LocalHub() as hub, hub.configure_client(cache_dir=Path(tmp) / "hf"):
        print(f"local Hub at {hub.endpoint} (user {hub.username})")
        demo_torch(hub, Path(tmp))
        demo_numpy(hub)
    print("demo finished: every round trip gave identical weights and outputs")


if __name__ == "__main__":
    main()
