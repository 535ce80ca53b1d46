"""Reinforcement learning in TensorFlow/Keras: DQN (double DQN, target network, replay buffer,
epsilon schedule) and PPO (GAE, clipped objective, vectorised environments, discrete and
continuous actions). The ``dqn`` and ``ppo`` decide-stage plugins wrap these agents; ``drid
train policy`` trains them by driving environments directly."""

from drid.decide.rl.agent import Agent, load_agent
from drid.decide.rl.common import ActionSpec, CheckpointError
from drid.decide.rl.dqn import DQNAgent, DQNConfig
from drid.decide.rl.envs import EnvBatch, evaluate
from drid.decide.rl.ppo import PPOAgent, PPOConfig

__all__ = ["ActionSpec", "Agent", "CheckpointError", "DQNAgent", "DQNConfig", "EnvBatch", "PPOAgent", "PPOConfig", "evaluate", "load_agent"]
