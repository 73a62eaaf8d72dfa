"""Where bf16 autocast loses accuracy, op by op (`python -m gltr.bench --only precision-ops`).

One batch of real NW-UCLA training clips (augmented, as training sees them) through one model, once in fp32
and once under bf16 autocast from the same weights: the relative error ||bf16 - fp32|| / ||fp32|| of every
module's output and of every parameter's gradient, the loss of each, and the MPDP labels the input itself
still carries once rounded to bf16 (what the first Linear, 3 -> D, sees under autocast). Then the same for
bf16-fp32-input, which keeps the input embeddings in fp32.
"""
from pathlib import Path

import torch

from gltr.model.gltransformer import PRESETS, GLTransformer, for_dataset
from gltr.pipeline.mpdp import mpdp_labels
from gltr.train.loss import mpdp_loss
from gltr.train.precision import autocast_forward
from gltr.bench import missing


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / a.norm().clamp(min=1e-30))


def one_pass(model, motion, mask, labels, tokens, policy: str | None, device) -> tuple[dict, dict, float]:
    """Module outputs, parameter gradients and the loss of one forward + backward."""
    outputs, hooks = {}, []
    for name, module in model.named_modules():
        if name and not isinstance(module, (torch.nn.ModuleList, torch.nn.Dropout)):
            hooks.append(module.register_forward_hook(
                lambda m, i, o, name=name: outputs.__setitem__(name, (o[0] if isinstance(o, tuple) else o).detach().float())))
    model.zero_grad(set_to_none=True)
    d, m = autocast_forward(model, motion, mask, policy, device) if policy else model(motion, mask)
    loss, _ = mpdp_loss(d, m, *labels, mask, tokens)
    loss.backward()
    for h in hooks:
        h.remove()
    return outputs, {n: p.grad.detach().clone() for n, p in model.named_parameters()}, loss.item()


def label_survival(motion, mask, intervals) -> dict:
    """Fraction of valid-frame MPDP labels left unchanged when the motion is rounded to bf16 first."""
    exact = mpdp_labels(motion, intervals)
    rounded = mpdp_labels(motion.bfloat16().float(), intervals)
    valid = mask[..., None, None, None].expand_as(exact[0])
    return {head: float((e == r)[valid].float().mean())
            for head, e, r in zip(("direction", "magnitude"), exact, rounded)}


def compare(preset: str, data: Path, batch_size: int = 64, device=torch.device("cpu")) -> dict:
    from gltr.train.data import LoaderConfig, ShardLoader
    from gltr.train.prepared import read_index
    variant = read_index(data, "view", "train")["variant"]
    loader = ShardLoader(data, "view", "train", LoaderConfig(batch_size=batch_size, workers=0, seed=0,
                                                              interpolation=True, shear=0.3))
    batch = next(iter(loader.epoch(0)))
    motion, mask = batch["motion"].to(device), batch["mask"].to(device)
    cfg = for_dataset(PRESETS[preset](), variant.persons, variant.joints, variant.centre_joint, variant.t_max)
    torch.manual_seed(0)
    model = GLTransformer(cfg).to(device).eval()        # dropout off: the two passes see the same network
    tokens = [p * cfg.joints + cfg.centre for p in range(cfg.persons)]
    labels = [x.flatten(-2) for x in mpdp_labels(motion, cfg.intervals)]
    ref_out, ref_grad, ref_loss = one_pass(model, motion, mask, labels, tokens, None, device)
    result = {"preset": preset, "batch_size": len(motion), "frames": int(mask.shape[1]), "fp32_loss": ref_loss,
              "labels_unchanged_by_bf16_input": label_survival(motion, mask, cfg.intervals), "policies": {}}
    for policy in ("bf16", "bf16-fp32-input"):
        out, grad, loss = one_pass(model, motion, mask, labels, tokens, policy, device)
        outputs = {n: rel(ref_out[n], out[n]) for n in ref_out}
        grads = {n: rel(ref_grad[n], grad[n]) for n in ref_grad}
        result["policies"][policy] = {
            "loss": loss, "loss_rel_error": abs(loss - ref_loss) / ref_loss,
            "worst_outputs": dict(sorted(outputs.items(), key=lambda kv: -kv[1])[:8]),
            "worst_gradients": dict(sorted(grads.items(), key=lambda kv: -kv[1])[:8]),
            "median_gradient_rel_error": float(torch.tensor(list(grads.values())).median()),
            "outputs": outputs}
    return result


def run(out: Path, real: Path, quick: bool = False) -> dict:
    if skipped := missing(real / "nw_ucla"):
        return skipped
    data = out / "nwucla-prepared"
    if not (data / "prepare.json").exists():
        from gltr.pipeline.prepare import prepare
        prepare("nwucla", real / "nw_ucla", data, log=lambda line: None)
    return {preset: compare(preset, data, 8 if quick else 64) for preset in (("tiny",) if quick else ("small", "nwucla"))}
