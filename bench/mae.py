# The PyTorch side of bench/mae.ts: mae_vit_base_patch16 of the official
# facebookresearch/mae code (models_mae.py with timm 0.3.2's PatchEmbed and
# Block), written out in plain torch since Debian's interpreter has no timm.
# The computation is the official one step for step: patch embedding by a
# stride-16 convolution, the fixed sine-cosine position embedding, random
# masking by sorting noise and gathering, the class token, pre-norm blocks
# with a fused qkv projection and attention as softmax((q @ k^T) * scale) @ v,
# the final norm; then the decoder's projection, mask tokens, the un-shuffle
# by gather, its position embedding, blocks, norm and per-patch prediction
# without the class token; the loss is the mean squared error over the removed
# patches. Weights are random (the official initialisation's distributions).
# Usage: mae.py THREADS BATCH MASK_RATIO, then lines `forward CALLS` (evaluation
# mode, no gradients) or `train CALLS` (forward, backward, one AdamW step) on
# stdin; each is answered with the seconds the calls took.
import math
import sys
import time

import torch
import torch.nn as nn

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
BATCH = int(sys.argv[2])
MASK_RATIO = float(sys.argv[3])
SIZE, PATCH, CHANNELS = 224, 16, 3
EMBED_DIM, DEPTH, HEADS = 768, 12, 12
DECODER_DIM, DECODER_DEPTH, DECODER_HEADS = 512, 8, 16
MLP_RATIO, EPS = 4, 1e-6
# The official pre-training's optimizer (main_pretrain.py): AdamW, betas (0.9, 0.95),
# weight decay 0.05; the learning rate is its base rate 1.5e-4.
LR, BETAS, WEIGHT_DECAY = 1.5e-4, (0.9, 0.95), 0.05


def sincos_pos_embed(dim, grid):
    """The fixed (1, 1 + grid², dim) embedding: a zero row for the class token, then per
    patch m = r·grid + c the sines and cosines of c (first half) and of r (second half)."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    rows, cols = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing='ij')

    def encode(pos):  # (grid²,) → (grid², dim/2)
        angles = pos.reshape(-1, 1) * omega
        return torch.cat([angles.sin(), angles.cos()], 1)

    table = torch.cat([encode(cols), encode(rows)], 1)  # (grid², dim)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).float().unsqueeze(0)


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(CHANNELS, EMBED_DIM, PATCH, stride=PATCH)

    def forward(self, x):  # (N, C, S, S) → (N, L, D)
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # (N, T, D) → (N, T, D)
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # (3, N, h, T, d/h)
        q, k, v = qkv[0], qkv[1], qkv[2]
        weights = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)  # (N, h, T, T)
        return self.proj((weights @ v).transpose(1, 2).reshape(n, t, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, MLP_RATIO * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MaskedAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        grid = SIZE // PATCH
        self.patch_embed = PatchEmbed()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, EMBED_DIM))
        self.pos_embed = nn.Parameter(sincos_pos_embed(EMBED_DIM, grid), requires_grad=False)
        self.blocks = nn.ModuleList([Block(EMBED_DIM, HEADS) for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(EMBED_DIM, eps=EPS)
        self.decoder_embed = nn.Linear(EMBED_DIM, DECODER_DIM)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, DECODER_DIM))
        self.decoder_pos_embed = nn.Parameter(sincos_pos_embed(DECODER_DIM, grid), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([Block(DECODER_DIM, DECODER_HEADS) for _ in range(DECODER_DEPTH)])
        self.decoder_norm = nn.LayerNorm(DECODER_DIM, eps=EPS)
        self.decoder_pred = nn.Linear(DECODER_DIM, PATCH * PATCH * CHANNELS)
        # The official initialisation: the patch projection xavier-uniform as a Linear, the tokens
        # N(0, 0.02²), every Linear xavier-uniform with zero bias.
        nn.init.xavier_uniform_(self.patch_embed.proj.weight.view(EMBED_DIM, -1))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def patchify(self, imgs):  # (N, C, S, S) → (N, L, p²·C)
        n, g = imgs.shape[0], SIZE // PATCH
        x = imgs.reshape(n, CHANNELS, g, PATCH, g, PATCH)
        return torch.einsum('nchpwq->nhwpqc', x).reshape(n, g * g, PATCH * PATCH * CHANNELS)

    def random_masking(self, x, noise):
        """x (N, L, D) → the kept patches (N, keep, D), mask (N, L) 0 keep 1 remove, ids_restore (N, L)."""
        n, length, d = x.shape
        keep = int(length * (1 - MASK_RATIO))
        ids_shuffle = torch.argsort(noise, dim=1)  # small noise is kept
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        kept = torch.gather(x, 1, ids_shuffle[:, :keep].unsqueeze(-1).repeat(1, 1, d))
        mask = torch.ones(n, length)
        mask[:, :keep] = 0
        return kept, torch.gather(mask, 1, ids_restore), ids_restore

    def forward_encoder(self, imgs, noise):
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, noise)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)  # (N, 1 + keep, D)
        for block in self.blocks:
            x = block(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)  # (N, 1 + keep, E)
        n, t, e = x.shape
        length = ids_restore.shape[1]
        mask_tokens = self.mask_token.repeat(n, length + 1 - t, 1)
        shuffled = torch.cat([x[:, 1:, :], mask_tokens], dim=1)  # (N, L, E)
        restored = torch.gather(shuffled, 1, ids_restore.unsqueeze(-1).repeat(1, 1, e))
        x = torch.cat([x[:, :1, :], restored], dim=1) + self.decoder_pos_embed  # (N, 1 + L, E)
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]  # (N, L, p²·C)

    def forward_loss(self, imgs, pred, mask):
        per_patch = ((pred - self.patchify(imgs)) ** 2).mean(dim=-1)  # (N, L)
        return (per_patch * mask).sum() / mask.sum()

    def forward(self, imgs, noise):
        latent, mask, ids_restore = self.forward_encoder(imgs, noise)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask


def masking_noise(n, length):
    """The noise bench/mae.ts uses, so both sides remove the same patches: the fractional
    part of k·(√5 − 1)/2 at flat index k, in float64, rounded to float32."""
    return torch.tensor([(k * 0.6180339887498949) % 1 for k in range(n * length)], dtype=torch.float64).reshape(n, length).float()


model = MaskedAutoencoder()
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY)
imgs = torch.randn(BATCH, CHANNELS, SIZE, SIZE)
noise = masking_noise(BATCH, (SIZE // PATCH) ** 2)


def forward(calls):
    model.eval()
    with torch.no_grad():
        for _ in range(calls):
            model(imgs, noise)


def train(calls):
    model.train()
    for _ in range(calls):
        optimizer.zero_grad()
        model(imgs, noise)[0].backward()
        optimizer.step()


blocks = {'forward': forward, 'train': train}
for line in sys.stdin:
    name, calls = line.split()
    start = time.perf_counter_ns()
    blocks[name](int(calls))
    print((time.perf_counter_ns() - start) / 1e9, flush=True)
