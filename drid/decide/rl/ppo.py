"""Proximal Policy Optimisation (clipped objective, GAE) in TensorFlow/Keras.

Acting runs the policy network in numpy (a few small matrix products per step); each update —
``n_epochs`` passes of minibatch gradient steps over the rollout — is a single ``tf.function``
call. Defaults are rl-zoo's CartPole-v1 hyperparameters.

Fine-tuning a policy learnt otherwise (e.g. cloned from a controller) has options of its own, all
off by default: ``value_warmup`` first rollouts that fit only the value network (the cloned
policy acts unchanged while its critic, which starts untrained, learns; the first policy updates
would otherwise follow noise), ``policy_lr_scale`` a smaller step for the policy than for the
value network, ``learn_log_std=False`` keeps the exploration noise it was given,
``update_obs_norm=False`` keeps the observation statistics it was fitted with, and ``bc_coef`` a
penalty, decaying to 0 over ``bc_decay_steps``, on moving the policy's mean away from the policy
it started from (the KL between the two Gaussians at the current noise).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from drid.decide.rl.agent import Agent
from drid.decide.rl.common import MAX_ENVS, MAX_LAYERS, MAX_WIDTH, ActionSpec, Mlp, RunningNorm, check_buffer_size

__all__ = ["PPOAgent", "PPOConfig"]

_LOG_2PI = float(np.log(2 * np.pi))


class PPOConfig(BaseModel):
    """PPO hyperparameters."""

    model_config = ConfigDict(extra="forbid")
    n_envs: int = Field(default=8, ge=1, le=MAX_ENVS, description="environments stepped together (rows of a rollout)")
    n_steps: int = Field(default=32, ge=1, le=1_000_000, description="steps per environment per rollout")
    batch_size: int = Field(default=256, ge=1, description="minibatch size")
    n_epochs: int = Field(default=20, ge=1, description="passes over each rollout")
    gamma: float = Field(default=0.98, gt=0, le=1, description="discount")
    gae_lambda: float = Field(default=0.8, ge=0, le=1, description="GAE lambda")
    clip_range: float = Field(default=0.2, gt=0, description="PPO ratio clip")
    learning_rate: float = Field(default=1e-3, gt=0, description="Adam learning rate")
    anneal: bool = Field(default=True, description="decay learning rate and clip range linearly to 0 over total_steps")
    total_steps: int = Field(default=100_000, ge=1, description="planned training steps (annealing horizon)")
    ent_coef: float = Field(default=0.0, ge=0, description="entropy bonus weight")
    vf_coef: float = Field(default=0.5, ge=0, description="value loss weight")
    max_grad_norm: float = Field(default=0.5, gt=0, description="gradient clipping by global norm")
    hidden: list[Annotated[int, Field(ge=1, le=MAX_WIDTH)]] = Field(
        default_factory=lambda: [64, 64], max_length=MAX_LAYERS, description="hidden layer widths (policy and value nets (at most 8 layers of at most 8192)")
    activation: str = Field(default="tanh", description="tanh or relu")
    normalize_obs: bool = Field(default=False, description="normalise observations by running mean and std")
    normalize_reward: bool = Field(default=False, description="scale rewards by the running std of the discounted return (large or dense rewards, e.g. Pendulum)")
    log_std_init: float = Field(default=0.0, description="initial log standard deviation (continuous actions)")
    learn_log_std: bool = Field(default=True, description="learn the log standard deviation (False: keep it, e.g. a cloned policy's)")
    update_obs_norm: bool = Field(default=True, description="keep updating the observation statistics (False: keep those of the checkpoint)")
    value_warmup: int = Field(default=0, ge=0, description="the agent's first updates (rollouts) that fit only the value network")
    policy_lr_scale: float = Field(default=1.0, gt=0, le=1, description="the policy's step as a share of the value network's (learning_rate)")
    bc_coef: float = Field(default=0.0, ge=0, description="weight of the KL to the policy at the first update (fine-tuning; 0: none)")
    bc_decay_steps: int = Field(default=0, ge=0, description="steps over which bc_coef decays linearly to 0 (0: it stays)")
    seed: int = Field(default=0, description="seed of weights, sampling and minibatch order")

    @model_validator(mode="after")
    def _sizes(self) -> PPOConfig:
        rollout = self.n_envs * self.n_steps
        if self.batch_size > rollout:
            raise ValueError(f"batch_size ({self.batch_size}) is larger than a rollout (n_envs*n_steps = {rollout})")
        return self


class PPOAgent(Agent[PPOConfig]):
    """PPO with separate policy and value MLPs; categorical or diagonal-Gaussian actions."""

    algo = "ppo"
    Config = PPOConfig

    def __init__(self, obs_dim: int, action: ActionSpec, config: BaseModel | None = None, **overrides: Any) -> None:
        super().__init__(obs_dim, action, config, **overrides)
        c = self.config
        check_buffer_size(c.n_steps * c.n_envs * (3 * obs_dim + action.dim + 6), f"a rollout of n_steps={c.n_steps} x n_envs={c.n_envs}")
        import keras

        keras.utils.set_random_seed(c.seed)
        self.pi = Mlp([obs_dim, *c.hidden, action.dim], c.activation, out_scale=0.01, seed=c.seed, name="policy")
        self.vf = Mlp([obs_dim, *c.hidden, 1], c.activation, out_scale=1.0, seed=c.seed + 100, name="value")
        self.continuous = action.kind == "box"
        self.log_std = keras.Variable(np.full(action.dim, c.log_std_init, dtype=np.float32), name="log_std") if self.continuous else None
        self.norm = RunningNorm(obs_dim) if c.normalize_obs else None
        self.reward_norm = RunningNorm(1) if c.normalize_reward else None
        self._discounted = np.zeros(c.n_envs)
        self.optimizer = keras.optimizers.Adam(learning_rate=c.learning_rate, epsilon=1e-5)
        self._alloc()
        self._update_fn: Any = None
        self._value_fn: Any = None
        #: the policy fine-tuning started from (``bc_coef``), and the step it was taken at
        self.anchor: Mlp | None = None
        self.anchor_step = 0

    # -- buffers ----------------------------------------------------------------------------------
    def _alloc(self) -> None:
        c = self.config
        T, N, D = c.n_steps, c.n_envs, self.obs_dim
        self.buf_obs = np.zeros((T, N, D), np.float32)
        self.buf_next = np.zeros((T, N, D), np.float64)
        self.buf_act = np.zeros((T, N, self.action.dim), np.float32) if self.continuous else np.zeros((T, N), np.int32)
        self.buf_logp = np.zeros((T, N), np.float32)
        self.buf_val = np.zeros((T, N), np.float32)
        self.buf_rew = np.zeros((T, N), np.float32)
        self.buf_term = np.zeros((T, N), np.float32)
        self.buf_done = np.zeros((T, N), np.float32)
        self.buf_raw = np.zeros((T, N, D), np.float64)
        self._t = 0

    def networks(self) -> dict[str, Mlp]:
        return {"policy": self.pi, "value": self.vf}

    def _trainable(self) -> list[Any]:
        extra = [self.log_std] if self.log_std is not None else []
        return [*self.pi.variables, *self.vf.variables, *extra]

    def _optimizer(self) -> Any:
        return self.optimizer

    # -- acting -----------------------------------------------------------------------------------
    def _prep(self, obs: np.ndarray) -> np.ndarray:
        return self.norm(obs) if self.norm is not None else np.asarray(obs, dtype=np.float64)

    def act(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        obs = self.check_observation(obs)
        x = self._prep(obs)
        out = self.pi.numpy_forward(x)
        if self.continuous:
            assert self.log_std is not None
            log_std = np.asarray(self.log_std, dtype=np.float64)
            raw = out if deterministic else out + np.exp(log_std) * self.rng.standard_normal(out.shape)
            logp = -0.5 * (((raw - out) / np.exp(log_std)) ** 2 + 2 * log_std + _LOG_2PI).sum(-1)
            actions = np.clip(raw, self.action.low, self.action.high)
        else:
            logits = out - out.max(-1, keepdims=True)
            log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
            if deterministic:
                raw = log_probs.argmax(-1)
            else:
                raw = (log_probs - np.log(-np.log(self.rng.uniform(1e-12, 1.0, log_probs.shape)))).argmax(-1)
            logp = np.take_along_axis(log_probs, raw[:, None], -1)[:, 0]
            actions = raw
        extras = {"raw": raw, "logp": logp, "obs": np.array(x, dtype=np.float32)}
        if not deterministic:
            extras["value"] = self.vf.numpy_forward(x)[:, 0]
        return actions, extras

    def values(self, obs: np.ndarray) -> np.ndarray:
        return self.vf.numpy_forward(self._prep(self.check_observation(obs)))[:, 0]

    # -- learning -----------------------------------------------------------------------------------
    def observe(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
                terminated: np.ndarray, truncated: np.ndarray, extras: dict[str, np.ndarray]) -> dict[str, float] | None:
        c = self.config
        t = self._t
        n = np.shape(rewards)[0]
        if n != c.n_envs:
            raise ValueError(f"ppo was built for n_envs={c.n_envs} environments, got a batch of {n}")
        if "value" not in extras:
            raise ValueError("ppo learns from stochastic actions: act(obs, deterministic=False) gives the extras it needs")
        self.buf_obs[t] = extras["obs"]
        self.buf_raw[t] = obs
        self.buf_act[t] = extras["raw"]
        self.buf_logp[t] = extras["logp"]
        self.buf_val[t] = extras["value"]
        if self.reward_norm is not None:
            if self._discounted.shape[0] != n:
                self._discounted = np.zeros(n)
            self._discounted = self._discounted * c.gamma + np.asarray(rewards, dtype=np.float64)
            self.reward_norm.update(self._discounted[:, None])
            self.buf_rew[t] = np.asarray(rewards) / np.sqrt(self.reward_norm.var[0] + 1e-8)
            self._discounted[np.logical_or(terminated, truncated)] = 0.0
        else:
            self.buf_rew[t] = rewards
        self.buf_next[t] = next_obs
        self.buf_term[t] = terminated
        self.buf_done[t] = np.logical_or(terminated, truncated)
        self.steps += n
        self._t += 1
        if self._t < c.n_steps:
            return None
        return self._update()

    def _advantages(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        T, N = c.n_steps, c.n_envs
        # V(s') from each step's own next observation: the final observation when an episode
        # ended (truncation bootstraps from it, termination is masked), the next state otherwise.
        next_v = self.vf.numpy_forward(self._prep(self.buf_next.reshape(T * N, -1)))[:, 0].reshape(T, N)
        adv = np.zeros((T, N), np.float64)
        last = np.zeros(N)
        for t in range(T - 1, -1, -1):
            delta = self.buf_rew[t] + c.gamma * next_v[t] * (1.0 - self.buf_term[t]) - self.buf_val[t]
            last = delta + c.gamma * c.gae_lambda * (1.0 - self.buf_done[t]) * last
            adv[t] = last
        return adv, adv + self.buf_val

    def progress_left(self) -> float:
        c = self.config
        return max(0.0, 1.0 - self.steps / c.total_steps) if c.anneal else 1.0

    def _update(self) -> dict[str, float]:
        import tensorflow as tf

        c = self.config
        adv, ret = self._advantages()
        T, N = c.n_steps, c.n_envs
        B = T * N
        frac = self.progress_left()
        # the rollout was acted on with the statistics before this update
        if self.norm is not None and c.update_obs_norm:
            self.norm.update(self.buf_raw.reshape(B, -1))
        perms = np.stack([self.rng.permutation(B) for _ in range(c.n_epochs)]).astype(np.int32)
        n_batches = B // c.batch_size
        perms = perms[:, : n_batches * c.batch_size].reshape(c.n_epochs * n_batches, c.batch_size)
        warmup = self.updates < c.value_warmup
        if warmup:
            if self._value_fn is None:
                self._value_fn = self._build_update(policy=False)
            fn = self._value_fn
        else:
            if self._update_fn is None:
                self._update_fn = self._build_update()
            fn = self._update_fn
        self.optimizer.learning_rate.assign(c.learning_rate * max(frac, 1e-8))
        extra = []
        if c.bc_coef > 0 and not warmup:
            obs = self.buf_obs.reshape(B, -1)
            extra = [tf.constant(self._anchor_actions(obs).astype(np.float32)), tf.constant(np.float32(self.bc_weight()))]
        stats = fn(
            tf.constant(self.buf_obs.reshape(B, -1)),
            tf.constant(self.buf_act.reshape(B, -1) if self.continuous else self.buf_act.reshape(B)),
            tf.constant(self.buf_logp.reshape(B)),
            tf.constant(adv.reshape(B).astype(np.float32)),
            tf.constant(ret.reshape(B).astype(np.float32)),
            tf.constant(perms),
            tf.constant(np.float32(c.clip_range * max(frac, 1e-8))),
            *extra,
        )
        self.pi.changed()
        self.vf.changed()
        self._t = 0
        self.updates += 1
        out = {k: float(v) for k, v in stats.items()}
        out["value_warmup"] = float(warmup)
        out["explained_variance"] = float(1 - np.var(ret - self.buf_val) / (np.var(ret) + 1e-8))
        return out

    def _anchor_actions(self, obs: np.ndarray) -> np.ndarray:
        """The mean actions of the policy at the first update (taken then) on ``obs``."""
        if self.anchor is None:
            self.anchor = Mlp(self.pi.sizes, self.pi.activation, name="anchor")
            self.anchor.set_weights(self.pi.weights())
            self.anchor_step = self.steps
        return self.anchor.numpy_forward(obs)

    def bc_weight(self) -> float:
        """``bc_coef``, decayed linearly over ``bc_decay_steps`` from the anchor's step."""
        c = self.config
        if c.bc_decay_steps == 0:
            return c.bc_coef
        return c.bc_coef * max(0.0, 1.0 - (self.steps - self.anchor_step) / c.bc_decay_steps)

    def _build_update(self, policy: bool = True) -> Any:
        """The update of the policy and value networks (``policy=False``: the value network's alone)."""
        import tensorflow as tf

        c = self.config
        pi, vf, log_std, opt = self.pi, self.vf, self.log_std, self.optimizer
        if not opt.built:
            opt.build(self._trainable())  # all of them, so the optimiser's state has one layout
        noise = [log_std] if log_std is not None and c.learn_log_std else []
        actor = [*pi.variables, *noise] if policy else []
        variables = [*pi.variables, *vf.variables, *noise] if policy else list(vf.variables)  # the order of _trainable()
        scale = c.policy_lr_scale
        bc = policy and c.bc_coef > 0
        continuous = self.continuous

        def log_prob_entropy(obs: Any, act: Any) -> tuple[Any, Any]:
            out = pi(obs)
            if continuous:
                ls = tf.cast(log_std, tf.float32)
                logp = -0.5 * tf.reduce_sum(tf.square((act - out) / tf.exp(ls)) + 2.0 * ls + _LOG_2PI, -1)
                ent = tf.reduce_sum(ls + 0.5 * (_LOG_2PI + 1.0)) * tf.ones_like(logp)
            else:
                lp = tf.nn.log_softmax(out)
                logp = tf.gather(lp, act, batch_dims=1)
                ent = -tf.reduce_sum(tf.exp(lp) * lp, -1)
            return logp, ent

        @tf.function(reduce_retracing=True)
        def update(obs: Any, act: Any, old_logp: Any, adv: Any, ret: Any, batches: Any, clip: Any, anchor: Any = None, bc_w: Any = None) -> dict[str, Any]:
            pg_sum = tf.constant(0.0)
            bc_sum = tf.constant(0.0)
            v_sum = tf.constant(0.0)
            ent_sum = tf.constant(0.0)
            kl_sum = tf.constant(0.0)
            clipped_sum = tf.constant(0.0)
            n = tf.shape(batches)[0]
            for i in tf.range(n):
                idx = batches[i]
                o, a, olp, ad, r = (tf.gather(x, idx) for x in (obs, act, old_logp, adv, ret))
                ad = (ad - tf.reduce_mean(ad)) / (tf.math.reduce_std(ad) + 1e-8)
                with tf.GradientTape() as tape:
                    logp, ent = log_prob_entropy(o, a)
                    ratio = tf.exp(logp - olp)
                    pg = -tf.reduce_mean(tf.minimum(ratio * ad, tf.clip_by_value(ratio, 1.0 - clip, 1.0 + clip) * ad))
                    v = tf.squeeze(vf(o), -1)
                    v_loss = tf.reduce_mean(tf.square(r - v))
                    e = tf.reduce_mean(ent)
                    loss = pg + c.vf_coef * v_loss - c.ent_coef * e if policy else c.vf_coef * v_loss
                    if bc:
                        ls = tf.stop_gradient(tf.cast(log_std, tf.float32)) if continuous else 0.0
                        if continuous:  # KL between Gaussians of one noise: the squared shift of the mean over 2 variances
                            kl_bc = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square((pi(o) - tf.gather(anchor, idx)) / tf.exp(ls)), -1))
                        else:
                            ref = tf.nn.log_softmax(tf.gather(anchor, idx))
                            kl_bc = tf.reduce_mean(tf.reduce_sum(tf.exp(ref) * (ref - tf.nn.log_softmax(pi(o))), -1))
                        loss += bc_w * kl_bc
                        bc_sum += kl_bc
                grads = tape.gradient(loss, variables)
                grads, _ = tf.clip_by_global_norm(grads, c.max_grad_norm)
                before = [tf.identity(v) for v in actor] if scale != 1.0 else []
                opt.apply_gradients(zip(grads, variables))
                for v, old in zip(actor, before):  # Adam's step does not shrink with the gradient: scale the step itself
                    v.assign(old + scale * (v - old))
                pg_sum += pg
                v_sum += v_loss
                ent_sum += e
                kl_sum += tf.reduce_mean(olp - logp)
                clipped_sum += tf.reduce_mean(tf.cast(tf.abs(ratio - 1.0) > clip, tf.float32))
            nf = tf.cast(n, tf.float32)
            out = {"policy_loss": pg_sum / nf, "value_loss": v_sum / nf, "entropy": ent_sum / nf, "approx_kl": kl_sum / nf, "clip_fraction": clipped_sum / nf}
            if bc:
                out["bc_kl"] = bc_sum / nf
            return out

        return update

    # -- checkpoint extras --------------------------------------------------------------------------
    def _extra_state(self, with_buffer: bool) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.log_std is not None:
            out["log_std"] = np.asarray(self.log_std)
        if self.norm is not None:
            out.update({f"norm/{k}": v for k, v in self.norm.state().items()})
        if self.reward_norm is not None:
            out.update({f"reward_norm/{k}": v for k, v in self.reward_norm.state().items()})
        if self.anchor is not None:
            out.update({f"anchor/{i}": w for i, w in enumerate(self.anchor.weights())})
            out["anchor_step"] = np.array(self.anchor_step)
        return out

    def _load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        from drid.decide.rl.common import CheckpointError

        if self.log_std is not None:
            if "log_std" not in arrays:
                raise CheckpointError("ppo checkpoint has no log_std for its continuous actions")
            self.log_std.assign(arrays["log_std"].astype(np.float32))
        if self.norm is not None:
            try:
                self.norm.load({k[5:]: v for k, v in arrays.items() if k.startswith("norm/")})
            except KeyError:
                raise CheckpointError("ppo checkpoint has no observation statistics although normalize_obs is on") from None
        if self.reward_norm is not None:
            try:
                self.reward_norm.load({k[12:]: v for k, v in arrays.items() if k.startswith("reward_norm/")})
            except KeyError:
                raise CheckpointError("ppo checkpoint has no reward statistics although normalize_reward is on") from None
        if "anchor_step" in arrays:  # a fine-tuning run resumed: the KL stays to where it started
            self.anchor = Mlp(self.pi.sizes, self.pi.activation, name="anchor")
            self.anchor.set_weights([arrays[f"anchor/{i}"] for i in range(len(self.pi.weights()))])
            self.anchor_step = int(arrays["anchor_step"])
