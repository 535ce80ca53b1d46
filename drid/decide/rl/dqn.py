"""Deep Q-learning with double-DQN targets, a target network, a replay buffer and a linear
epsilon schedule, in TensorFlow/Keras.

Acting runs the Q-network in numpy; each training burst (``gradient_steps`` minibatch updates
every ``train_freq`` environment steps) is one ``tf.function`` call. Defaults are rl-zoo's
CartPole-v1 hyperparameters.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from drid.decide.rl.agent import Agent
from drid.decide.rl.common import MAX_ENVS, MAX_LAYERS, MAX_WIDTH, ActionSpec, Mlp
from drid.errors import ConfigError

__all__ = ["DQNAgent", "DQNConfig", "ReplayBuffer"]


class DQNConfig(BaseModel):
    """DQN hyperparameters."""

    model_config = ConfigDict(extra="forbid")
    buffer_size: int = Field(default=100_000, ge=1, description="replay capacity (transitions)")
    learning_starts: int = Field(default=1_000, ge=0, description="environment steps before the first update")
    batch_size: int = Field(default=64, ge=1, description="minibatch size")
    learning_rate: float = Field(default=2.3e-3, gt=0, description="Adam learning rate")
    gamma: float = Field(default=0.99, gt=0, le=1, description="discount")
    train_freq: int = Field(default=256, ge=1, description="environment steps between training bursts")
    gradient_steps: int = Field(default=128, ge=1, description="minibatch updates per burst")
    target_update_interval: int = Field(default=10, ge=1, description="environment steps between target-network syncs (applied between bursts)")
    exploration_fraction: float = Field(default=0.16, ge=0, le=1, description="share of total_steps over which epsilon decays")
    exploration_initial_eps: float = Field(default=1.0, ge=0, le=1, description="epsilon at the start")
    exploration_final_eps: float = Field(default=0.04, ge=0, le=1, description="epsilon after the decay")
    total_steps: int = Field(default=50_000, ge=1, description="planned training steps (epsilon horizon)")
    hidden: list[Annotated[int, Field(ge=1, le=MAX_WIDTH)]] = Field(
        default_factory=lambda: [256, 256], max_length=MAX_LAYERS, description="hidden layer widths (at most 8 layers of at most 8192)")
    activation: str = Field(default="relu", description="relu or tanh")
    double: bool = Field(default=True, description="double DQN: the online net picks the next action, the target net values it")
    max_grad_norm: float = Field(default=10.0, gt=0, description="gradient clipping by global norm")
    n_envs: int = Field(default=1, ge=1, le=MAX_ENVS, description="environments stepped together")
    seed: int = Field(default=0, description="seed of weights, exploration and replay sampling")


class ReplayBuffer:
    """A fixed-size ring of transitions in numpy arrays."""

    def __init__(self, capacity: int, obs_dim: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.pos = 0
        self.size = 0

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray, terminated: np.ndarray) -> None:
        for i in range(len(rewards)):
            p = self.pos
            self.obs[p], self.next_obs[p] = obs[i], next_obs[i]
            self.actions[p], self.rewards[p], self.terminated[p] = actions[i], rewards[i], terminated[i]
            self.pos = (p + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def arrays(self) -> dict[str, np.ndarray]:
        n = self.size
        return {"replay/obs": self.obs[:n], "replay/next_obs": self.next_obs[:n], "replay/actions": self.actions[:n],
                "replay/rewards": self.rewards[:n], "replay/terminated": self.terminated[:n], "replay/pos": np.array(self.pos)}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        n = len(arrays["replay/rewards"])
        self.obs[:n], self.next_obs[:n] = arrays["replay/obs"], arrays["replay/next_obs"]
        self.actions[:n], self.rewards[:n], self.terminated[:n] = arrays["replay/actions"], arrays["replay/rewards"], arrays["replay/terminated"]
        self.size, self.pos = n, int(arrays["replay/pos"])


class DQNAgent(Agent[DQNConfig]):
    """Double DQN over discrete actions with an MLP Q-network."""

    algo = "dqn"
    Config = DQNConfig

    def __init__(self, obs_dim: int, action: ActionSpec, config: BaseModel | None = None, **overrides: Any) -> None:
        super().__init__(obs_dim, action, config, **overrides)
        import keras

        if action.kind != "discrete":
            raise ConfigError(f"dqn needs a discrete action space, got {action.describe()} (use ppo for continuous actions)")
        c = self.config
        keras.utils.set_random_seed(c.seed)
        self.q = Mlp([obs_dim, *c.hidden, action.n], c.activation, out_scale=1.0, seed=c.seed, name="q")
        self.target = Mlp([obs_dim, *c.hidden, action.n], c.activation, out_scale=1.0, seed=c.seed, name="q_target")
        self.target.set_weights(self.q.weights())
        self.optimizer = keras.optimizers.Adam(learning_rate=c.learning_rate)
        self.replay = ReplayBuffer(min(c.buffer_size, 10_000_000), obs_dim)
        self._since_train = 0
        self._last_sync = 0
        self._train_fn: Any = None

    def networks(self) -> dict[str, Mlp]:
        return {"q": self.q, "target": self.target}

    def _trainable(self) -> list[Any]:
        return self.q.variables

    def _optimizer(self) -> Any:
        return self.optimizer

    def epsilon(self) -> float:
        c = self.config
        span = c.exploration_fraction * c.total_steps
        frac = 1.0 if span <= 0 else min(1.0, self.steps / span)
        return c.exploration_initial_eps + frac * (c.exploration_final_eps - c.exploration_initial_eps)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        return self.q.numpy_forward(self.check_observation(obs))

    def act(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        q = self.q_values(obs)
        actions = q.argmax(-1)
        if not deterministic:
            explore = self.rng.random(len(actions)) < self.epsilon()
            if explore.any():
                actions = np.where(explore, self.rng.integers(0, self.action.n, len(actions)), actions)
        return actions, {}

    def observe(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
                terminated: np.ndarray, truncated: np.ndarray, extras: dict[str, np.ndarray]) -> dict[str, float] | None:
        c = self.config
        # Only termination stops bootstrapping: a time-limit cut still values next_obs.
        self.replay.add(np.asarray(obs), np.asarray(actions), np.asarray(rewards), np.asarray(next_obs), np.asarray(terminated, dtype=np.float32))
        n = len(rewards)
        self.steps += n
        self._since_train += n
        if self.steps < c.learning_starts or self._since_train < c.train_freq or self.replay.size < c.batch_size:
            return None
        self._since_train = 0
        return self._train()

    def _train(self) -> dict[str, float]:
        import tensorflow as tf

        c = self.config
        if self.steps - self._last_sync >= c.target_update_interval:
            self.target.set_weights(self.q.weights())
            self._last_sync = self.steps
        idx = self.rng.integers(0, self.replay.size, (c.gradient_steps, c.batch_size))
        rb = self.replay
        if self._train_fn is None:
            self._train_fn = self._build_train()
        loss, q_mean = self._train_fn(
            tf.constant(rb.obs[idx]), tf.constant(rb.actions[idx]), tf.constant(rb.rewards[idx]),
            tf.constant(rb.next_obs[idx]), tf.constant(rb.terminated[idx]),
        )
        self.q.changed()
        self.updates += c.gradient_steps
        return {"loss": float(loss), "q_mean": float(q_mean), "epsilon": self.epsilon()}

    def _build_train(self) -> Any:
        import tensorflow as tf

        c = self.config
        q, target, opt = self.q, self.target, self.optimizer
        variables = q.variables
        if not opt.built:
            opt.build(variables)
        gamma, double = c.gamma, c.double

        @tf.function(reduce_retracing=True)
        def train(obs: Any, act: Any, rew: Any, nxt: Any, term: Any) -> tuple[Any, Any]:
            loss_sum = tf.constant(0.0)
            q_sum = tf.constant(0.0)
            n = tf.shape(obs)[0]
            for i in tf.range(n):
                o, a, r, o2, d = obs[i], act[i], rew[i], nxt[i], term[i]
                q_next_target = target(o2)
                if double:
                    best = tf.argmax(q(o2), axis=-1, output_type=tf.int32)
                else:
                    best = tf.argmax(q_next_target, axis=-1, output_type=tf.int32)
                y = r + gamma * (1.0 - d) * tf.gather(q_next_target, best, batch_dims=1)
                y = tf.stop_gradient(y)
                with tf.GradientTape() as tape:
                    chosen = tf.gather(q(o), a, batch_dims=1)
                    err = chosen - y
                    loss = tf.reduce_mean(tf.where(tf.abs(err) < 1.0, 0.5 * tf.square(err), tf.abs(err) - 0.5))
                grads = tape.gradient(loss, variables)
                grads, _ = tf.clip_by_global_norm(grads, c.max_grad_norm)
                opt.apply_gradients(zip(grads, variables))
                loss_sum += loss
                q_sum += tf.reduce_mean(chosen)
            nf = tf.cast(n, tf.float32)
            return loss_sum / nf, q_sum / nf

        return train

    def _extra_state(self, with_buffer: bool) -> dict[str, np.ndarray]:
        out = {"dqn/counters": np.array([self._since_train, self._last_sync])}
        if with_buffer:
            out.update(self.replay.arrays())
        return out

    def _load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        if "dqn/counters" in arrays:
            self._since_train, self._last_sync = (int(v) for v in arrays["dqn/counters"])
        if "replay/rewards" in arrays:
            self.replay.load(arrays)
