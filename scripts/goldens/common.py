"""Shared helpers for exporting golden tests from timm (or from the peer skeleton).

A golden is a folder Tests/VitModelsTests/Goldens/<case>/ holding
  meta.json                 {"model": zoo name, "config": {overrides}, "batch", "height", "width",
                             "dtype", "reparameterizable", "source", "timm_version", "torch_version"}
  weights.safetensors       the train-time state_dict, every tensor randomised (timm's names)
  weights_reparam.safetensors  the state_dict after timm's reparameterize_model (if any branches fuse)
  input.npy                 NCHW float32
  logits.npy                the reference logits, computed in float64 from the stored (float32 or
                            float16-rounded) values, saved as float32
Randomisation covers every parameter AND every BatchNorm running statistic AND every layer scale:
timm's default init leaves BN at identity and layer scales at 1e-5, which would let a missing layer
pass. Run in the peer environment (scripts/peers/setup.sh); tests never need torch.
VITBENCH_GOLDENS=DIR makes the exporters write into DIR instead (e.g. to compare with the
committed goldens).
"""
import copy
import json
import os

import numpy as np
import torch
import torch.nn as nn

GOLDENS = os.environ.get('VITBENCH_GOLDENS') or os.path.join(os.path.dirname(__file__), '..', '..', 'Tests',
                                                             'VitModelsTests', 'Goldens')

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)


@torch.no_grad()
def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random values everywhere, at scales that keep a deep network's activations O(1)."""
    g = torch.Generator().manual_seed(seed)

    def normal(t, std):
        t.copy_(torch.randn(t.shape, generator=g) * std)

    def uniform(t, lo, hi):
        t.copy_(lo + (hi - lo) * torch.rand(t.shape, generator=g))

    owned = set()
    for mod in model.modules():
        if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            fan_in = mod.weight[0].numel()
            normal(mod.weight, 1.0 / fan_in ** 0.5)
            owned.add(id(mod.weight))
            if mod.bias is not None:
                normal(mod.bias, 0.1)
                owned.add(id(mod.bias))
        elif isinstance(mod, _NORMS):
            if getattr(mod, 'weight', None) is not None:
                uniform(mod.weight, 0.5, 1.5)
                owned.add(id(mod.weight))
            if getattr(mod, 'bias', None) is not None:
                normal(mod.bias, 0.1)
                owned.add(id(mod.bias))
            if getattr(mod, 'running_mean', None) is not None:
                normal(mod.running_mean, 0.1)
                uniform(mod.running_var, 0.5, 1.5)
    for name, p in model.named_parameters():
        if id(p) in owned:
            continue
        # Layer scales, position embeddings, class tokens, attention biases, ...
        if 'scale' in name or 'gamma' in name or name.endswith('.ls'):
            uniform(p, 0.2, 0.8)
        else:
            normal(p, 0.5)
    return model


@torch.no_grad()
def round_to_half_(model: nn.Module) -> None:
    """Makes every float tensor exactly representable in float16, so that a float16 file holds
    the very values the reference computed with (halves the size of a large golden)."""
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            t.copy_(t.half().float())


def _state_dict(model, dtype, rename=None):
    out = {}
    sd = model.state_dict()
    if rename is not None:
        sd = rename(sd)
    for k, v in sd.items():
        v = v.detach().contiguous()
        if v.is_floating_point():
            v = v.to(torch.float16 if dtype == 'F16' else torch.float32)
        out[k] = v
    return out


@torch.no_grad()
def export(case: str, model: nn.Module, model_name: str, config: dict, batch: int, height: int, width: int,
           reparameterize=None, dtype: str = 'F32', seed: int = 0, source: str = 'timm',
           state_dict_names=None, save_reparam: bool = True) -> None:
    """Randomises `model` (eval mode), writes the golden folder `case`.
    `reparameterize(model) -> model` (e.g. timm.utils.model.reparameterize_model) adds the fused form;
    `state_dict_names(sd) -> sd` renames keys for models whose module names are not vitbench's.
    `save_reparam=False` skips weights_reparam.safetensors (always float32) for large goldens: the
    fused form is still checked through vitbench's own reparameterize()."""
    from safetensors.torch import save_file
    import timm

    model = randomize_(model.eval(), seed)
    if dtype == 'F16':
        round_to_half_(model)
    x = torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(seed + 1))
    ref = copy.deepcopy(model).double()
    logits = ref(x.double())
    folder = os.path.join(GOLDENS, case)
    os.makedirs(folder, exist_ok=True)
    save_file(_state_dict(model, dtype, state_dict_names), os.path.join(folder, 'weights.safetensors'))
    fused = None
    if reparameterize is not None:
        fused = reparameterize(copy.deepcopy(model))
        fused_logits = copy.deepcopy(fused).double()(x.double())
        err = (fused_logits - logits).abs().max() / logits.abs().max()
        assert err < 1e-5, f'{case}: reparameterised model differs from the train-time one ({err})'
        if save_reparam:
            save_file(_state_dict(fused, 'F32', state_dict_names), os.path.join(folder, 'weights_reparam.safetensors'))
    np.save(os.path.join(folder, 'input.npy'), x.numpy().astype(np.float32))
    np.save(os.path.join(folder, 'logits.npy'), logits.numpy().astype(np.float32))
    meta = dict(model=model_name, config=config, batch=batch, height=height, width=width, dtype=dtype,
                reparameterizable=fused is not None, source=source, seed=seed,
                timm_version=timm.__version__, torch_version=torch.__version__,
                params=sum(p.numel() for p in model.parameters()),
                params_reparam=sum(p.numel() for p in fused.parameters()) if fused is not None else None)
    with open(os.path.join(folder, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
    print(f'{case}: {model_name} {config} {batch}x3x{height}x{width} {dtype}, {size / 1e6:.1f} MB')
