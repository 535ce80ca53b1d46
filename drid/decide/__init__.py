"""Decide: the ``rules`` policy, the learning policies (``random``, ``dqn``, ``ppo``), the
``driving-pd`` controller and the driver-state training environment (``driving``) and, in
``rl/``, the reinforcement-learning agents, their training and the shipped presets."""
