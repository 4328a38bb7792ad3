"""What CutMix and MixUp share: a Beta(α, α) parameter, its slider, and how a mix is put in words."""

from __future__ import annotations

from cifar_core.augment.spec import OpSpec, Param, positive, share

ALPHA_HELP = "Beta(α, α): small α gives mostly small or mostly large shares; α = 1 is uniform."


class MixOp(OpSpec):
    kind = "mix"
    params = {"alpha": Param(0.3, positive(100.0))}
    widget_params = ("alpha",)
    verb = "mixed"

    def caption(self, entry):
        return f"{self.title}: {share(entry['weight'])} {self.verb} from image #{entry['partner'] + 1}"

    def tag(self, entry):
        return f"{self.name} {entry['weight']:.2f}"

    def summary(self, params):
        return f"(α {params['alpha']:g})"

    def controls(self, ui, persist, disabled):
        alpha = ui.slider(
            "α (mixing strength)", 0.05, 2.0, step=0.05, **persist(f"alpha_{self.name}", 0.3), help=ALPHA_HELP, disabled=disabled
        )
        return {"alpha": alpha}

    def widget_values(self, params):
        return {f"alpha_{self.name}": max(0.05, min(2.0, params["alpha"]))}
