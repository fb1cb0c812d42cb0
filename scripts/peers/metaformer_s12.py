#!/usr/bin/env python3
"""The metaformer_s12 mixer skeleton in PyTorch: the definition that vitbench's `metaformer_s12:MIXER`
(Sources/VitModels/Families/MetaFormerS12.swift) builds, so that a production runtime can run the
very same network (scripts/peers/peer_mixers.py) and goldens can be exported from it
(scripts/goldens/export_metaformer.py).

The network (full size: widths 64,128,320,512, depths 2,2,6,2, head dim 32, 1000 classes):

  stem        one 7x7 convolution, stride 4, padding 3, 3 -> dims[0] channels, with bias.
  stages      four stages. Every stage except the first opens with a 3x3 stride-2 padding-1
              convolution (with bias) from the previous stage's width to its own; then come
              depths[i] blocks of width d = dims[i].
  block       x = token_mixer(x)
              x = x + s * fc2(gelu(fc1(bn(x))))
              where bn is an inference-mode BatchNorm2d, fc1 / fc2 are 1x1 convolutions with bias
              (d -> 4d -> d: MLP ratio 4), gelu is the exact (erf) GELU and s is a per-channel
              layer scale (d values).
  head        global average pool over the map, then one Linear(dims[-1], num_classes).

Token mixers (bn = BatchNorm2d, s = the mixer's own per-channel layer scale):

  pooling     x + s * (avgpool3x3(bn(x)) - bn(x))   stride 1, padding 1, padded cells not counted
  repmixer    FastViT's RepMixer: x + g * (mixer(x) - norm(x)), where `mixer` is the sum of a
              depthwise 3x3 conv + BN, a depthwise 1x1 conv + BN and a BN of x, `norm` is a BN
              of x and g the per-channel gamma. Reparameterised, the whole mixer is one depthwise
              3x3 convolution with bias, skip included (`reparam_conv`).
  attention   x + s * proj(MHSA(bn(x)))   over the H*W tokens, qkv = Linear(d, 3d) and
              proj = Linear(d, d) with bias, heads = d / head_dim, softmax(q k^T / sqrt(head_dim)),
              the qkv output laid out as (3, heads, head_dim) per token.
  dwconv      x + s * dwconv7x7(bn(x))   depthwise, padding 3, with bias
  identity    x   (no token mixing: the MLP-only floor)

Parameter names are vitbench's own (timm style), so vitbench's safetensors load with
`load_state_dict` unchanged: `stem.conv`, `stages.I.downsample.conv`,
`stages.I.blocks.J.token_mixer.{norm, conv, qkv, proj, layer_scale}` (repmixer: timm's
`token_mixer.{norm.identity, mixer.{conv_kxk.0.{conv,bn}, conv_scale.{conv,bn}, identity},
layer_scale.gamma}`, after reparameterisation `token_mixer.reparam_conv`),
`stages.I.blocks.J.{norm, mlp.fc1, mlp.fc2, layer_scale}`, `head.fc`. Layer scales are 1-D
(d values), except the RepMixer's gamma, [d, 1, 1] as in timm.

Needs only torch. Run as a script, it checks itself against vitbench's committed goldens:
  python scripts/peers/metaformer_s12.py --goldens [Tests/VitModelsTests/Goldens]
(needs safetensors and numpy as well; the peer environment from scripts/peers/setup.sh has both)."""
import argparse
import glob
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

MIXERS = ('pooling', 'repmixer', 'attention', 'dwconv', 'identity')
FULL = dict(dims=(64, 128, 320, 512), depths=(2, 2, 6, 2), head_dim=32, num_classes=1000)


class ConvBN(nn.Module):
    """A bias-free convolution followed by BatchNorm (one RepMixer branch)."""

    def __init__(self, d, k):
        super().__init__()
        self.conv = nn.Conv2d(d, d, k, 1, k // 2, groups=d, bias=False)
        self.bn = nn.BatchNorm2d(d)

    def forward(self, x):
        return self.bn(self.conv(x))

    def fused(self, k):
        """(kernel [d,1,k,k], bias [d]) of the conv+BN, zero-padded to k x k."""
        std = (self.bn.running_var + self.bn.eps).sqrt()
        t = self.bn.weight / std
        w = self.conv.weight * t.reshape(-1, 1, 1, 1)
        p = (k - w.shape[-1]) // 2
        return F.pad(w, [p, p, p, p]), self.bn.bias - self.bn.running_mean * t


def fused_bn(bn, d, k, dtype):
    """A BatchNorm as a depthwise k x k kernel (centre tap) and bias."""
    std = (bn.running_var + bn.eps).sqrt()
    t = bn.weight / std
    w = torch.zeros(d, 1, k, k, dtype=dtype)
    w[:, 0, k // 2, k // 2] = t
    return w, bn.bias - bn.running_mean * t


class RepBranches(nn.Module):
    """Sum of a BN of x and, optionally, depthwise kxk conv+BN and 1x1 conv+BN branches
    (timm's MobileOneBlock without activation, names kept)."""

    def __init__(self, d, k, convs):
        super().__init__()
        self.identity = nn.BatchNorm2d(d)
        if convs:
            self.conv_kxk = nn.ModuleList([ConvBN(d, k)])
            self.conv_scale = ConvBN(d, 1)
        self.d, self.k, self.convs = d, k, convs

    def forward(self, x):
        y = self.identity(x)
        if self.convs:
            y = self.conv_scale(x) + y + self.conv_kxk[0](x)
        return y

    def fused(self):
        w, b = fused_bn(self.identity, self.d, self.k, self.identity.weight.dtype)
        if self.convs:
            for branch in (self.conv_kxk[0], self.conv_scale):
                bw, bb = branch.fused(self.k)
                w, b = w + bw, b + bb
        return w, b


class LayerScale2d(nn.Module):
    def __init__(self, d, value):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((d, 1, 1), value))

    def forward(self, x):
        return x * self.gamma


class RepMixer(nn.Module):
    """x + gamma * (mixer(x) - norm(x)); after reparameterize(), one depthwise conv."""

    def __init__(self, d, k=3, inference=False):
        super().__init__()
        self.d, self.k = d, k
        if inference:
            self.reparam_conv = nn.Conv2d(d, d, k, 1, k // 2, groups=d)
        else:
            self.norm = RepBranches(d, k, convs=False)
            self.mixer = RepBranches(d, k, convs=True)
            self.layer_scale = LayerScale2d(d, 0.5)

    def forward(self, x):
        if hasattr(self, 'reparam_conv'):
            return self.reparam_conv(x)
        return x + self.layer_scale(self.mixer(x) - self.norm(x))

    @torch.no_grad()
    def reparameterize(self):
        if hasattr(self, 'reparam_conv'):
            return
        mw, mb = self.mixer.fused()
        nw, nb = self.norm.fused()
        g = self.layer_scale.gamma.reshape(-1)
        identity = torch.zeros_like(mw)
        identity[:, 0, self.k // 2, self.k // 2] = 1
        conv = nn.Conv2d(self.d, self.d, self.k, 1, self.k // 2, groups=self.d).to(mw.dtype)
        conv.weight.copy_(identity + g.reshape(-1, 1, 1, 1) * (mw - nw))
        conv.bias.copy_(g * (mb - nb))
        del self.norm, self.mixer, self.layer_scale
        self.reparam_conv = conv


class TokenMixer(nn.Module):
    """The pooling, attention and dwconv mixers: x + s * op(bn(x))."""

    def __init__(self, kind, d, head_dim):
        super().__init__()
        self.kind = kind
        self.norm = nn.BatchNorm2d(d)
        if kind == 'dwconv':
            self.conv = nn.Conv2d(d, d, 7, 1, 3, groups=d)
        elif kind == 'attention':
            if d % head_dim:
                raise ValueError(f'attention mixer: width {d} is not a multiple of the head dim {head_dim}')
            self.heads = max(1, d // head_dim)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
        self.layer_scale = nn.Parameter(torch.full((d,), 0.5))

    def forward(self, x):
        n = self.norm(x)
        if self.kind == 'pooling':
            y = F.avg_pool2d(n, 3, 1, 1, count_include_pad=False) - n
        elif self.kind == 'dwconv':
            y = self.conv(n)
        else:
            B, C, H, W = n.shape
            t = n.flatten(2).transpose(1, 2)
            q, k, v = self.qkv(t).reshape(B, H * W, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
            o = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, H * W, C)
            y = self.proj(o).transpose(1, 2).reshape(B, C, H, W)
        return x + self.layer_scale.reshape(1, -1, 1, 1) * y


class Mlp(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1 = nn.Conv2d(d, 4 * d, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(4 * d, d, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, kind, d, head_dim, inference=False):
        super().__init__()
        if kind == 'repmixer':
            self.token_mixer = RepMixer(d, 3, inference)
        elif kind == 'identity':
            self.token_mixer = nn.Identity()
        else:
            self.token_mixer = TokenMixer(kind, d, head_dim)
        self.norm = nn.BatchNorm2d(d)
        self.mlp = Mlp(d)
        self.layer_scale = nn.Parameter(torch.full((d,), 0.5))

    def forward(self, x):
        x = self.token_mixer(x)
        return x + self.layer_scale.reshape(1, -1, 1, 1) * self.mlp(self.norm(x))


class Downsample(nn.Module):
    def __init__(self, d_in, d):
        super().__init__()
        self.conv = nn.Conv2d(d_in, d, 3, 2, 1)

    def forward(self, x):
        return self.conv(x)


class Stage(nn.Module):
    def __init__(self, kind, d_in, d, depth, downsample, head_dim, inference):
        super().__init__()
        self.downsample = Downsample(d_in, d) if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[Block(kind, d, head_dim, inference) for _ in range(depth)])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class Stem(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.conv = nn.Conv2d(3, d, 7, 4, 3)

    def forward(self, x):
        return self.conv(x)


class Head(nn.Module):
    def __init__(self, d, classes):
        super().__init__()
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        return self.fc(x.mean((2, 3)))


class MetaFormerS12(nn.Module):
    """metaformer_s12 with token mixer `mixer` (see the module docstring). `inference=True` builds
    repmixer directly in its reparameterised form (what vitbench and the peers time)."""

    def __init__(self, mixer='pooling', dims=FULL['dims'], depths=FULL['depths'], head_dim=FULL['head_dim'],
                 num_classes=FULL['num_classes'], inference=False):
        super().__init__()
        if mixer not in MIXERS:
            raise ValueError(f"unknown mixer '{mixer}'; known: {', '.join(MIXERS)}")
        if len(dims) != len(depths):
            raise ValueError(f'{len(dims)} widths for {len(depths)} stages')
        self.mixer = mixer
        self.stem = Stem(dims[0])
        self.stages = nn.Sequential(*[
            Stage(mixer, dims[max(i - 1, 0)], d, n, i > 0, head_dim, inference)
            for i, (d, n) in enumerate(zip(dims, depths))])
        self.head = Head(dims[-1], num_classes)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))

    def reparameterize(self):
        """Fuses every RepMixer into its single depthwise conv, in place; returns self."""
        for m in list(self.modules()):
            if isinstance(m, RepMixer):
                m.reparameterize()
        return self


def metaformer_s12(mixer, config=None, inference=False):
    """The network for a vitbench zoo entry `metaformer_s12:MIXER` with the golden-style `config`
    overrides (keys dims, depths, head_dim, num_classes); eval mode."""
    c = dict(FULL)
    c.update(config or {})
    unknown = set(c) - set(FULL)
    if unknown:
        raise ValueError(f'unknown config keys: {sorted(unknown)}')
    return MetaFormerS12(mixer, inference=inference, **c).eval()


def check_goldens(folder, tolerance=1e-4):
    """Loads every metaformer_s12_* golden's weights into this definition, runs its input in float64
    and compares with its logits. Returns the number of failures."""
    import numpy as np
    from safetensors.torch import load_file

    cases = sorted(glob.glob(os.path.join(folder, 'metaformer_s12_*', 'meta.json')))
    if not cases:
        sys.exit(f'no metaformer_s12_* goldens under {folder}')
    failures = 0
    for meta_path in cases:
        case = os.path.dirname(meta_path)
        meta = json.load(open(meta_path))
        mixer = meta['model'].split(':', 1)[1]
        x = torch.from_numpy(np.load(os.path.join(case, 'input.npy'))).double()
        want = torch.from_numpy(np.load(os.path.join(case, 'logits.npy'))).double()
        forms = [('weights.safetensors', False)]
        if os.path.exists(os.path.join(case, 'weights_reparam.safetensors')):
            forms.append(('weights_reparam.safetensors', True))
        for file, inference in forms:
            net = metaformer_s12(mixer, meta.get('config'), inference=inference).double()
            net.load_state_dict(load_file(os.path.join(case, file)), strict=True)
            with torch.no_grad():
                got = net(x)
                err = ((got - want).abs().max() / want.abs().max()).item()
                extra = ''
                if mixer == 'repmixer' and not inference:  # the fusion itself, from the train-time weights
                    fused = net.reparameterize()(x)
                    extra = f', own reparameterisation {((fused - want).abs().max() / want.abs().max()).item():.2e}'
            ok = err <= tolerance
            failures += not ok
            print(f"{os.path.basename(case)} {file}: relative max error {err:.2e}{extra} {'ok' if ok else 'FAIL'}")
    return failures


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--goldens', nargs='?', const=os.path.join(here, '..', '..', 'Tests', 'VitModelsTests', 'Goldens'),
                    help='check against the committed goldens in this folder')
    ap.add_argument('--tolerance', type=float, default=1e-4)
    a = ap.parse_args()
    if a.goldens is None:
        for kind in MIXERS:
            net = metaformer_s12(kind, inference=True)
            print(f'metaformer_s12:{kind}: {sum(p.numel() for p in net.parameters()):,} parameters (inference form)')
    else:
        sys.exit(1 if check_goldens(a.goldens, a.tolerance) else 0)
