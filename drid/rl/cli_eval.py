"""``drid eval policy`` (registered through ``drid.cli.EVAL_MODULES``)."""

from drid.rl.cli import register_eval as register

__all__ = ["register"]
