"""The ``cartpole-recognizer``: says which ``cartpole-parts`` blob (``drid.detect.cartpole``) is
the cart, the pole or the axle from its *shape* — the pole is long and thin, the cart a filled
rectangle about 5:3, the axle small and round."""

from __future__ import annotations

from pydantic import Field

from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Detection, Frame, LabelScore, Recognition

__all__ = ["CartPoleRecognizer"]


class CartPoleRecognizer(Plugin):
    """Says which CartPole blob is the cart, the pole or the axle, from its shape alone."""

    drid_name = "cartpole-recognizer"

    class Params(PluginParams):
        pole_elongation: float = Field(default=4.0, gt=1, description="a blob at least this elongated (major/minor axis) is a pole")

    #: The detector labels it answers for (those of ``cartpole-parts``).
    LABELS = ("dark", "ochre", "violet")

    params: Params

    def _scores(self, d: Detection) -> dict[str, float]:
        meta = d.meta
        elong = float(meta.get("elongation", 1.0))  # type: ignore[arg-type]
        fill = float(meta.get("fill", 0.0))  # type: ignore[arg-type]
        area = float(meta.get("area", d.box.area))  # type: ignore[arg-type]
        aspect = d.box.width / max(d.box.height, 1.0)
        pole = min(1.0, max(0.0, (elong - 1.5) / (self.params.pole_elongation - 1.5)))
        cart = max(0.0, 1.0 - abs(aspect - 5 / 3) / 1.5) * min(1.0, fill / 0.8) * (1.0 if elong < self.params.pole_elongation else 0.2)
        axle = max(0.0, 1.0 - abs(aspect - 1.0)) * min(1.0, fill / 0.6) * (1.0 if area < 200 else 0.1) * (1.0 if elong < 2 else 0.1)
        if area >= 200:  # a cart is larger than any axle: prefer it among round-ish large blobs
            cart = max(cart, 0.5 * (1.0 - pole)) if elong < self.params.pole_elongation else cart
        return {"pole": pole, "cart": cart, "axle": axle}

    @hookimpl
    def drid_recognize(self, frame: Frame, detections: list[Detection]) -> list[Recognition]:
        """``cart``, ``pole`` or ``axle`` for each ``cartpole-parts`` blob that looks like one."""
        out = []
        for i, d in enumerate(detections):
            if d.label not in self.LABELS:
                continue
            scores = sorted(self._scores(d).items(), key=lambda kv: -kv[1])
            label, score = scores[0]
            if score <= 0.2:
                continue
            out.append(Recognition(detection=i, label=label, score=round(score, 4),
                                   top_k=tuple(LabelScore(label=k, score=round(v, 4)) for k, v in scores)))
        return out
