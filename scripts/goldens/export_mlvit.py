#!/usr/bin/env python3
"""Goldens for the mobile-level ViT with IPE and APF (Sources/VitModels/Families/MobileLevelViT.swift),
from an independent PyTorch port.

The paper (arXiv 2108.13015) published no code, so this port is written from the doc comments of
MobileLevelViT.swift alone: every tensor name equals vitbench's, the config keys are
MobileLevelViT.Config's JSON names, and each choice the paper leaves open (the conv patch
embedding, the IPE branches, the APF formula, bilinear resampling per token grid) is implemented
as documented there.

Cases (every tensor randomised by common.export; batch 2, float32), all on one small config:
patch embedding to stride 8 (widths 8/16/24), IPE branches 3x3/2, 5x5/4 and global with
expansion 3 (72 channels; SE width make_divisible(18) = 16), width 32, depth 2, 2 heads;
img_size 96, so the native token grids are 6x6 + 3x3 + 1x1 = 46 tokens.
  mlvit_small             `mlvit_mobile` (IPE, APF, position embedding) at its native 96x96
  mlvit_small_118x70      the same at 118x70: a 15x9 map, grids 8x5 + 4x3 + 1x1, so pos_embed and
                          apf.global_weight are resampled (up in one axis, down or kept in the other)
  mlvit_small_no_apf_118x70  `mlvit_mobile:no_apf` at 118x70: a class token whose position row is kept
                          while the grids' rows are resampled; the head reads the class token
  mlvit_small_no_ipe      `mlvit_mobile:no_ipe` at 96x96: uniform 12x12 tokens through the 1x1
                          `patch_embed.proj`
Usage (peer environment, from scripts/goldens): python export_mlvit.py"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import export

SOURCE = 'independent PyTorch port of Sources/VitModels/Families/MobileLevelViT.swift'

# MobileLevelViT.Config's defaults (the zoo's `mlvit_mobile`), before a variant's switch and the overrides.
DEFAULTS = dict(img_size=224, patch_embed_chs=[16, 32, 64, 128], ipe_strides=[2, 4, None], ipe_kernels=[3, 5, 3],
                ipe_exp_ratio=4.0, ipe_se_ratio=0.25, embed_dim=256, depth=9, num_heads=4, mlp_ratio=4.0,
                apf_mlp_ratio=0.25, use_ipe=True, use_apf=True, use_pos_embed=True, num_classes=1000)
VARIANTS = {'mlvit_mobile': {}, 'mlvit_mobile:no_ipe': dict(use_ipe=False), 'mlvit_mobile:no_apf': dict(use_apf=False),
            'mlvit_mobile:no_pos': dict(use_pos_embed=False)}


def make_divisible(v, divisor=8, round_limit=0.9):
    """timm's make_divisible (min_value = divisor)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < round_limit * v else new_v


def conv_out(n, kernel, stride):
    """Output side of a conv padded by kernel // 2."""
    return (n + 2 * (kernel // 2) - kernel) // stride + 1


class ConvPatchEmbed(nn.Module):
    """`conv_stem` 3x3/2 + `bn1`, then per further width `blocks.i` = depthwise 3x3/2 (`conv_dw`, `bn1`)
    and pointwise (`conv_pw`, `bn2`), hard-swish after every BN; optionally `proj` (1x1 conv, bias)."""

    def __init__(self, widths, projection):
        super().__init__()
        self.conv_stem = nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.blocks = nn.ModuleList()
        for cin, cout in zip(widths, widths[1:]):
            block = nn.Module()
            block.conv_dw = nn.Conv2d(cin, cin, 3, stride=2, padding=1, groups=cin, bias=False)
            block.bn1 = nn.BatchNorm2d(cin)
            block.conv_pw = nn.Conv2d(cin, cout, 1, bias=False)
            block.bn2 = nn.BatchNorm2d(cout)
            self.blocks.append(block)
        self.proj = nn.Conv2d(widths[-1], projection, 1) if projection is not None else None

    @staticmethod
    def output_size(n, blocks):
        for _ in range(blocks):
            n = conv_out(n, 3, 2)
        return n

    def forward(self, x):
        x = F.hardswish(self.bn1(self.conv_stem(x)))
        for block in self.blocks:
            x = F.hardswish(block.bn1(block.conv_dw(x)))
            x = F.hardswish(block.bn2(block.conv_pw(x)))
        return self.proj(x) if self.proj is not None else x


class SqueezeExcite(nn.Module):
    """MobileNetV3's SE: mean over space, `fc1` (1x1 conv), ReLU, `fc2`, hard-sigmoid gate."""

    def __init__(self, channels, reduced):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.fc2 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))


class IPEBranch(nn.Module):
    """timm's InvertedResidual names without the residual: `conv_pw` + `bn1` (hard-swish), depthwise
    `conv_dw` + `bn2` (hard-swish), [global average pool when `stride` is None], `se`, `conv_pwl` + `bn3`."""

    def __init__(self, cin, mid, reduced, cout, kernel, stride):
        super().__init__()
        self.is_global = stride is None
        self.conv_pw = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv_dw = nn.Conv2d(mid, mid, kernel, stride=stride or 1, padding=kernel // 2, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.se = SqueezeExcite(mid, reduced)
        self.conv_pwl = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = F.hardswish(self.bn1(self.conv_pw(x)))
        x = F.hardswish(self.bn2(self.conv_dw(x)))
        if self.is_global:
            x = x.mean((2, 3), keepdim=True)
        x = self.bn3(self.conv_pwl(self.se(x)))
        return x.flatten(2).transpose(1, 2)


class AdaptivePatchFusion(nn.Module):
    """fused = sum_t g_t * softmax_t(fc2(gelu(fc1(x_t)))) * x_t over tokens [N, T, C] -> [N, C]."""

    def __init__(self, dim, hidden, tokens):
        super().__init__()
        self.global_weight = nn.Parameter(torch.ones(1, tokens))
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, hidden)
        self.mlp.fc2 = nn.Linear(hidden, 1)

    def forward(self, x, global_weight):
        scores = self.mlp.fc2(F.gelu(self.mlp.fc1(x))).squeeze(-1)
        weights = scores.softmax(-1) * global_weight
        return (weights.unsqueeze(-1) * x).sum(1)


def resample_tokens(rows, prefix, grids_from, grids_to):
    """Per-token rows [1, T, C] laid out as `prefix` rows then one row-major grid per patch set:
    prefix rows kept, each grid resized bilinearly (align_corners=False, no antialiasing)."""
    if grids_from == grids_to:
        return rows
    parts, offset = [rows[:, :prefix]], prefix
    for (h0, w0), (h1, w1) in zip(grids_from, grids_to):
        grid = rows[:, offset:offset + h0 * w0]
        offset += h0 * w0
        grid = grid.reshape(1, h0, w0, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h1, w1), mode='bilinear', align_corners=False)
        parts.append(grid.permute(0, 2, 3, 1).reshape(1, h1 * w1, -1))
    return torch.cat(parts, 1)


class Block(nn.Module):
    """timm's DeiT Block: pre-norm (eps 1e-6), fused `attn.qkv` with bias, GELU MLP."""

    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, hidden)
        self.mlp.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        n, t, c = x.shape
        d = c // self.heads
        q, k, v = self.attn.qkv(self.norm1(x)).reshape(n, t, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        attn_map = (q @ k.transpose(-2, -1) * d ** -0.5).softmax(-1)
        x = x + self.attn.proj((attn_map @ v).transpose(1, 2).reshape(n, t, c))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class MobileLevelViT(nn.Module):
    def __init__(self, img_size, patch_embed_chs, ipe_strides, ipe_kernels, ipe_exp_ratio, ipe_se_ratio, embed_dim,
                 depth, num_heads, mlp_ratio, apf_mlp_ratio, use_ipe, use_apf, use_pos_embed, num_classes):
        super().__init__()
        self.embed_blocks = len(patch_embed_chs)
        self.ipe_strides_kernels = list(zip(ipe_strides, ipe_kernels)) if use_ipe else None
        self.prefix = 0 if use_apf else 1
        self.native_grids = self.grids(img_size, img_size)
        tokens = self.prefix + sum(h * w for h, w in self.native_grids)
        self.patch_embed = ConvPatchEmbed(patch_embed_chs, None if use_ipe else embed_dim)
        if use_ipe:
            mid = int(patch_embed_chs[-1] * ipe_exp_ratio)
            reduced = make_divisible(mid * ipe_se_ratio, 8, round_limit=0)
            self.ipe = nn.Module()
            self.ipe.branches = nn.ModuleList(IPEBranch(patch_embed_chs[-1], mid, reduced, embed_dim, k, s)
                                              for s, k in zip(ipe_strides, ipe_kernels))
        else:
            self.ipe = None
        self.cls_token = None if use_apf else nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, embed_dim)) if use_pos_embed else None
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, int(embed_dim * mlp_ratio)) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.apf = AdaptivePatchFusion(embed_dim, int(embed_dim * apf_mlp_ratio), tokens) if use_apf else None
        self.head = nn.Linear(embed_dim, num_classes)

    def grids(self, height, width):
        """The token grids of an HxW input: the IPE branches' grids, or the patch embedding's map."""
        h, w = ConvPatchEmbed.output_size(height, self.embed_blocks), ConvPatchEmbed.output_size(width, self.embed_blocks)
        if self.ipe_strides_kernels is None:
            return [(h, w)]
        return [(1, 1) if s is None else (conv_out(h, k, s), conv_out(w, k, s)) for s, k in self.ipe_strides_kernels]

    def forward(self, x):
        grids = self.grids(x.shape[2], x.shape[3])
        x = self.patch_embed(x)
        if self.ipe is not None:
            x = torch.cat([branch(x) for branch in self.ipe.branches], 1)
        else:
            x = x.flatten(2).transpose(1, 2)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        if self.pos_embed is not None:
            x = x + resample_tokens(self.pos_embed, self.prefix, self.native_grids, grids)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        if self.apf is None:
            return self.head(x[:, 0])
        g = resample_tokens(self.apf.global_weight.unsqueeze(-1), 0, self.native_grids, grids).squeeze(-1)
        return self.head(self.apf(x, g))


SMALL = dict(img_size=96, patch_embed_chs=[8, 16, 24], ipe_exp_ratio=3.0, embed_dim=32, depth=2, num_heads=2, num_classes=10)

CASES = [
    # case, zoo model, overrides, batch, height, width
    ('mlvit_small', 'mlvit_mobile', SMALL, 2, 96, 96),
    ('mlvit_small_118x70', 'mlvit_mobile', SMALL, 2, 118, 70),
    ('mlvit_small_no_apf_118x70', 'mlvit_mobile:no_apf', SMALL, 2, 118, 70),
    ('mlvit_small_no_ipe', 'mlvit_mobile:no_ipe', SMALL, 2, 96, 96),
]

if __name__ == '__main__':
    for case, name, overrides, batch, height, width in CASES:
        model = MobileLevelViT(**dict(DEFAULTS, **VARIANTS[name], **overrides))
        export(case, model, name, overrides, batch=batch, height=height, width=width, dtype='F32', source=SOURCE)
