"""The gym source in closed loop: actions applied in order, exact step counts, episode ends
(termination, truncation, autoreset), vectorised copies, pixels, and clear errors."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from drid import ConfigError, Decision, DridError, Pipeline, StageError, hookimpl
from drid.sources.gym import GymSource
from drid.testing import CollectSink


class Scripted:
    """Decide: plays a fixed action sequence, remembering which frame got which action."""

    drid_name = "scripted"

    def __init__(self, actions):
        self.actions = list(actions)
        self.seen = []
        self.learned = []

    @hookimpl
    def drid_decide(self, frame):
        action = self.actions[len(self.seen) % len(self.actions)]
        self.seen.append((frame.index, action))
        return Decision(action=action)

    @hookimpl
    def drid_learn(self, transition):
        self.learned.append(transition)


def direct_run(env_id, seed, actions, steps, **kwargs):
    """The same env stepped by hand: (obs, action, reward, next_obs, terminated, truncated) per step."""
    env = gymnasium.make(env_id, **kwargs)
    obs, _ = env.reset(seed=seed)
    out = []
    for i in range(steps):
        a = actions[i % len(actions)]
        nxt, r, te, tr, _ = env.step(a)
        out.append((obs, a, r, nxt, te, tr))
        obs = env.reset()[0] if te or tr else nxt
    return out


def test_closed_loop_applies_actions_in_order_and_counts_steps():
    pattern = [0, 0, 1, 0, 1, 1, 1, 0, 1]
    policy = Scripted(pattern)
    sink = CollectSink()
    source = GymSource(env="CartPole-v1", seed=3, episodes=None, steps=120)
    pipe = Pipeline(source=source, decide=policy, sinks=[sink])
    summary = pipe.run()
    assert summary.frames_read == summary.frames_out == 120
    assert source.total_steps == 120
    assert [f for f, _ in policy.seen] == list(range(120))
    expected = direct_run("CartPole-v1", 3, pattern, 120)
    assert len(policy.learned) == 120
    for t, (obs, a, r, nxt, te, tr) in zip(policy.learned, expected):
        assert t.action == a
        np.testing.assert_array_equal(t.observation, obs)
        np.testing.assert_array_equal(t.next_observation, nxt)
        assert (t.reward, t.terminated, t.truncated) == (r, te, tr)
    records = sink.records
    assert [r.transition.action for r in records] == [pattern[i % len(pattern)] for i in range(120)]
    # episodes: the ones the direct run finished, with their lengths
    ends = [i for i, e in enumerate(expected) if e[4] or e[5]]
    assert len(source.episodes) == len(ends) > 3
    assert [e["length"] for e in source.episodes] == list(np.diff([-1, *ends]))
    assert any("episodes, return" in n for n in summary.notes)


def test_episode_end_carries_final_observation_then_resets():
    policy = Scripted([1])  # always push right: CartPole terminates within ~10 steps
    sink = CollectSink()
    Pipeline(source=GymSource(env="CartPole-v1", seed=0, episodes=2), decide=policy, sinks=[sink]).run()
    records = sink.records
    end = next(i for i, r in enumerate(records) if r.transition.terminated)
    final = records[end].transition.next_observation
    assert abs(final[2]) > 0.2095 or abs(final[0]) > 2.4  # the terminal state itself, outside the bounds
    nxt = records[end + 1]
    assert nxt.frame.meta["first"] is True and nxt.frame.meta["episode"] == 1
    assert not np.array_equal(nxt.frame.observation, final)
    assert np.all(np.abs(nxt.frame.observation) <= 0.05)  # a fresh reset state
    assert records[-1].transition.terminated and len(records) == sum(1 for r in records if r.transition)


def test_truncation_is_not_termination():
    policy = Scripted([0, 1])  # alternating keeps the pole up for a while
    sink = CollectSink()
    source = GymSource(env="CartPole-v1", seed=1, episodes=1, kwargs={"max_episode_steps": 15})
    Pipeline(source=source, decide=policy, sinks=[sink]).run()
    last = sink.records[-1].transition
    assert len(sink.records) == 15
    assert last.truncated and not last.terminated
    assert source.episodes[0]["length"] == 15


def test_vectorised_copies_interleave_round_robin():
    policy = Scripted([0, 1, 1])
    sink = CollectSink()
    source = GymSource(env="CartPole-v1", seed=7, num_envs=3, episodes=None, steps=90)
    Pipeline(source=source, decide=policy, sinks=[sink]).run()
    records = sink.records
    assert [r.frame.meta["env_index"] for r in records] == [i % 3 for i in range(90)]
    for k in range(3):
        mine = [r.transition for r in records if r.transition.env_index == k]
        actions = [t.action for t in mine]
        expected = direct_run("CartPole-v1", 7 + k, actions, 30)
        for t, (obs, _a, _r, nxt, _te, _tr) in zip(mine, expected):
            np.testing.assert_array_equal(t.observation, obs)
            np.testing.assert_array_equal(t.next_observation, nxt)


def test_without_a_decide_stage_the_source_acts_itself():
    sink = CollectSink()
    source = GymSource(env="CartPole-v1", seed=0, episodes=None, steps=25)
    summary = Pipeline(source=source, sinks=[sink]).run()
    assert summary.frames_out == 25 and source.total_steps == 25
    assert all(r.transition is not None for r in sink.records)
    assert any("no decision" in n for n in summary.notes)


def test_pixels_are_bgr_renders():
    sink = CollectSink()
    Pipeline(source=GymSource(env="CartPole-v1", seed=0, episodes=None, steps=3, pixels=True), decide=Scripted([0]), sinks=[sink]).run()
    image = sink.records[0].frame.image
    assert image.shape == (400, 600, 3) and image.dtype == np.uint8
    colours = {tuple(c) for c in image.reshape(-1, 3)[::7]}
    assert (101, 152, 202) in colours  # the pole, RGB (202, 152, 101), in BGR order
    assert sink.records[0].frame.observation.shape == (4,)


def test_named_actions():
    sink = CollectSink()
    source = GymSource(env="CartPole-v1", seed=0, episodes=None, steps=4, actions={"LEFT": 0, "RIGHT": 1})
    Pipeline(source=source, decide=Scripted(["LEFT", "RIGHT", "RIGHT", "LEFT"]), sinks=[sink]).run()
    assert [r.transition.action for r in sink.records] == [0, 1, 1, 0]
    with pytest.raises(StageError, match="unknown named action 'UP'.*named actions: LEFT, RIGHT"):
        Pipeline(source=GymSource(env="CartPole-v1", episodes=1, actions={"LEFT": 0, "RIGHT": 1}), decide=Scripted(["UP"])).run()


def test_unknown_env_id_names_close_matches():
    with pytest.raises(ConfigError, match="unknown gymnasium environment 'CartPol-v1'.*did you mean 'CartPole-v1'"):
        Pipeline(source=("gym", {"env": "CartPol-v1"}))
    with pytest.raises(ConfigError, match=r"source\.params\.env"):
        Pipeline.from_config({"source": {"plugin": "gym", "params": {"env": "Cartpole-v1"}}})


def test_action_space_mismatch_is_a_clear_error():
    with pytest.raises(DridError, match=r"action 3 is outside the action space Discrete\(2\)"):
        Pipeline(source=GymSource(env="CartPole-v1", episodes=1), decide=Scripted([0, 3])).run()
    with pytest.raises(DridError, match=r"does not fit the action space Discrete\(2\): expected an integer"):
        Pipeline(source=GymSource(env="CartPole-v1", episodes=1), decide=Scripted([(0.5, -0.5)])).run()
    with pytest.raises(DridError, match=r"shape \(2,\) does not fit the action space Box"):
        Pipeline(source=GymSource(env="Pendulum-v1", episodes=1), decide=Scripted([(0.5, -0.5)])).run()


def test_a_source_without_an_end_is_refused():
    with pytest.raises(ConfigError, match="give 'episodes' or 'steps'"):
        Pipeline(source=("gym", {"env": "CartPole-v1", "episodes": None}))


def test_a_gym_source_built_in_python_is_validated_like_a_config():
    with pytest.raises(ConfigError, match=r"params: plugin 'gym': Value error, give 'episodes' or 'steps'"):
        GymSource(env="CartPole-v1", episodes=None)
    with pytest.raises(ConfigError, match=r"params\.env: .*unknown gymnasium environment 'CartPol-v1'"):
        GymSource(env="CartPol-v1")
    with pytest.raises(ConfigError, match=r"params\.num_envs: .*greater than or equal to 1"):
        GymSource(env="CartPole-v1", num_envs=0)
