"""Decide: the ``rules`` policy, the learning policies (``random``, ``dqn``, ``ppo``) and, in
``rl/``, the reinforcement-learning agents and their training."""
