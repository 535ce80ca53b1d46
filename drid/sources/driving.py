"""The gymnasium id ``drid.sources.driving:CarRacingDriverState-v0``: CarRacing-v3 as the driving
pipeline sees it, the environment the shipped ``drid/decide/models/carracing-ppo.npz`` was
trained on (``scripts/train_driving_policy.py``). The environment itself — the picture replaced
by the driver's state that ``road`` → ``driving-state`` compute — lives in
``drid.decide.driving`` (it uses detect and interpret plugins, which sources may not import:
recognize imports sources); registering it here names it by string only.
"""

from __future__ import annotations

import gymnasium

__all__: list[str] = []

if "CarRacingDriverState-v0" not in gymnasium.registry:
    gymnasium.register(id="CarRacingDriverState-v0", entry_point="drid.decide.driving:make_driver_state_env", max_episode_steps=None)
