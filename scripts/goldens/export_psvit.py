#!/usr/bin/env python3
"""Goldens for PSViT (Sources/VitModels/Families/PSViT.swift), from an independent PyTorch port.

The paper (arXiv 2108.03428) published no code, so this port is written from the doc comments of
PSViT.swift alone: every tensor name equals vitbench's, the config keys are PSViT.Config's JSON
names, and each choice the paper leaves open (8x8 patches, DeiT's layer, the poolings, the heads,
bicubic antialiased resampling of the position embedding) is implemented as documented there.

Cases (every tensor randomised by common.export; batch 2, float32):
  psvit_1d_small        PSViT-1D at its native 64x64 (8x8 patch grid): 3 stages (two 1D token
                        poolings, 64 -> 16 -> 4 patch tokens), a sharing layer after a sharing layer
  psvit_1d_small_76x58  the same at 76x58: a 9x7 patch grid (the last 4 pixel rows and 2 columns
                        unseen), the position embedding resampled from 8x8, 63 -> 16 -> 4 tokens (a
                        pooling window runs past the end of the sequence)
  psvit_2d_small        PSViT-2D at 64x64: 8x8 -> 4x4 -> 2x2 token maps
  psvit_2d_small_76x58  PSViT-2D at 76x58: 9x7 -> 5x4 -> 3x2 (odd maps under the stride-2 conv)
Usage (peer environment, from scripts/goldens): python export_psvit.py"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed

from common import export

SOURCE = 'independent PyTorch port of Sources/VitModels/Families/PSViT.swift'

# The zoo's psvit_{1d,2d}_tiny (ModelZoo.psViT), before overrides.
PAIRS = [[False, True], [False, True, False, True, False, True], [False, True, False, True]]
TINY = dict(img_size=224, patch_size=8, embed_dims=[96, 192, 384], depths=[2, 6, 4], num_heads=[3, 6, 12],
            share_attention=PAIRS, mlp_ratio=4.0, num_classes=1000)


class Layer(nn.Module):
    """DeiT's pre-norm layer. A basic layer projects to Q, K, V (`attn.qkv`, packed (3, heads, d));
    a sharing layer projects only to V (`attn.v`) and applies the previous layer's attention map."""

    def __init__(self, dim, heads, hidden, shares_attention):
        super().__init__()
        self.heads = heads
        self.shares_attention = shares_attention
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.Module()
        if shares_attention:
            self.attn.v = nn.Linear(dim, dim)
        else:
            self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, hidden)
        self.mlp.fc2 = nn.Linear(hidden, dim)

    def forward(self, x, shared_map):
        """Returns the layer's output and the attention map [N, heads, T, T] a sharing layer after
        it reuses (its own, or for a sharing layer the one it was given)."""
        n, t, c = x.shape
        d = c // self.heads
        y = self.norm1(x)
        if self.shares_attention:
            attn_map = shared_map
            v = self.attn.v(y).reshape(n, t, self.heads, d).transpose(1, 2)
        else:
            q, k, v = self.attn.qkv(y).reshape(n, t, 3, self.heads, d).permute(2, 0, 3, 1, 4)
            attn_map = (q @ k.transpose(-2, -1) * d ** -0.5).softmax(-1)
        x = x + self.attn.proj((attn_map @ v).transpose(1, 2).reshape(n, t, c))
        x = x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))
        return x, attn_map


class TokenPooling1d(nn.Module):
    """[N, 1 + T, Cin] -> [N, 1 + ceil(T/4), Cout]: class token through `fc`; the patch tokens
    through a 1D conv (k3, p1) and max pooling (window 7, stride 4, padding 3; padding never wins)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, 3, padding=1)
        self.fc = nn.Linear(cin, cout)

    def forward(self, x):
        cls, patches = x[:, :1], x[:, 1:]
        patches = F.max_pool1d(self.conv(patches.transpose(1, 2)), 7, stride=4, padding=3).transpose(1, 2)
        return torch.cat([self.fc(cls), patches], 1)


class TokenPooling2d(nn.Module):
    """[N, Cin, H, W] -> [N, Cout, ceil(H/2), ceil(W/2)]: a 3x3 stride-2 conv, padding 1."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class PSViT(nn.Module):
    def __init__(self, token_pooling, img_size, patch_size, embed_dims, depths, num_heads, share_attention,
                 mlp_ratio, num_classes):
        super().__init__()
        assert token_pooling in ('1d', '2d')
        assert [len(depths), len(num_heads), len(share_attention)] == [len(embed_dims)] * 3
        assert [len(s) for s in share_attention] == list(depths)
        self.one_d = token_pooling == '1d'
        self.grid = img_size // patch_size
        c0 = embed_dims[0]
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, c0, patch_size, stride=patch_size)
        if self.one_d:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, c0))
        self.pos_embed = nn.Parameter(torch.zeros(1, int(self.one_d) + self.grid ** 2, c0))
        self.stages = nn.ModuleList()
        for i, dim in enumerate(embed_dims):
            stage = nn.Module()
            if i > 0:
                stage.pool = (TokenPooling1d if self.one_d else TokenPooling2d)(embed_dims[i - 1], dim)
            hidden = int(dim * mlp_ratio)
            stage.blocks = nn.ModuleList(Layer(dim, num_heads[i], hidden, shares) for shares in share_attention[i])
            self.stages.append(stage)
        self.norm = nn.LayerNorm(embed_dims[-1], eps=1e-6)
        self.head = nn.Linear(embed_dims[-1], num_classes)

    def forward(self, x):
        x = self.patch_embed.proj(x)
        n, c, h, w = x.shape
        pos = resample_abs_pos_embed(self.pos_embed, [h, w], [self.grid, self.grid], num_prefix_tokens=int(self.one_d))
        tokens = x.flatten(2).transpose(1, 2)
        if self.one_d:
            tokens = torch.cat([self.cls_token.expand(n, -1, -1), tokens], 1)
        tokens = tokens + pos
        for i, stage in enumerate(self.stages):
            if i > 0 and self.one_d:
                tokens = stage.pool(tokens)
            elif i > 0:
                pooled = stage.pool(tokens.transpose(1, 2).reshape(n, -1, h, w))
                h, w = pooled.shape[2:]
                tokens = pooled.flatten(2).transpose(1, 2)
            attn_map = None
            for layer in stage.blocks:
                tokens, attn_map = layer(tokens, attn_map)
        features = tokens[:, 0] if self.one_d else tokens.mean(1)
        return self.head(self.norm(features))


# Three stages (two poolings), a sharing layer in each and a sharing layer after a sharing layer
# (stage 1), widths that are not multiples of 16 (head dims 8, 14, 10).
SMALL = dict(img_size=64, embed_dims=[16, 28, 40], depths=[2, 3, 2], num_heads=[2, 2, 4],
             share_attention=[[False, True], [False, True, True], [False, True]], num_classes=10)

CASES = [
    # case, token pooling, overrides, batch, height, width
    ('psvit_1d_small', '1d', SMALL, 2, 64, 64),
    ('psvit_1d_small_76x58', '1d', SMALL, 2, 76, 58),
    ('psvit_2d_small', '2d', SMALL, 2, 64, 64),
    ('psvit_2d_small_76x58', '2d', SMALL, 2, 76, 58),
]

if __name__ == '__main__':
    for case, pooling, overrides, batch, height, width in CASES:
        config = dict(TINY, token_pooling=pooling, **overrides)
        model = PSViT(**config)
        export(case, model, f'psvit_{pooling}_tiny', overrides, batch=batch, height=height, width=width,
               dtype='F32', source=SOURCE)
