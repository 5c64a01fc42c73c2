# The PyTorch side of bench/transformer.ts: the paper's transformer_base with a
# shared 8,000-token vocabulary, composed from torch.nn.Transformer
# (PaperTransformer in test/fixtures/torch_reference.py, dropout 0.1), with
# the weights NetLab drew (a safetensors file).
#   train   teacher-forced forward on the targets' first 31 tokens,
#           cross-entropy with label smoothing 0.1 on their last 31, backward,
#           one Adam step (betas 0.9, 0.98, eps 1e-9);
#   decode  greedy decoding with the incremental scheme NetLab uses: the
#           encoder once; per new token one pass through the decoder layers'
#           own modules, the self-attention keys and values of earlier tokens
#           cached and the memory's projected once; padding and bos never
#           generated; a sequence ends at eos, decoding when all have.
# Usage: transformer.py THREADS WEIGHTS BATCH LENGTH VOCAB NEW_TOKENS, then
# lines `train CALLS` or `decode CALLS` on stdin, each answered with the
# seconds the calls took; `tokens 0` answers with the tokens the last decode
# generated and a checksum of them (the one bench/transformer.ts computes).
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures'))
from safetensors_file import read_safetensors  # noqa: E402
from torch_reference import PaperTransformer  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
WEIGHTS = sys.argv[2]
BATCH, LENGTH, VOCAB, NEW_TOKENS = (int(v) for v in sys.argv[3:7])
D, HEADS, LAYERS, FF = 512, 8, 6, 2048
PAD, BOS, EOS = 0, 1, 2

model = PaperTransformer(VOCAB, VOCAB, D, HEADS, LAYERS, FF, share=True, tie=True, max_len=1024, dropout=0.1)
model.load_state_dict(read_safetensors(WEIGHTS)[0])
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)


def tokens(offset):
    """The token ids of bench/transformer.ts: 3 + (k·7919 + offset) mod (V − 3) at flat index k."""
    return torch.tensor([3 + (k * 7919 + offset) % (VOCAB - 3) for k in range(BATCH * LENGTH)]).view(BATCH, LENGTH)


src, tgt = tokens(0), tokens(1)


def train(calls):
    model.train()
    for _ in range(calls):
        optimizer.zero_grad()
        logits = model(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tgt[:, 1:].reshape(-1), ignore_index=PAD, label_smoothing=0.1)
        loss.backward()
        optimizer.step()


def split_heads(x, n):  # (N, L, D) → (N, h, L, D/h)
    return x.view(n, -1, HEADS, D // HEADS).transpose(1, 2)


def project_kv(attention, x):
    _, wk, wv = attention.in_proj_weight.chunk(3)
    _, bk, bv = attention.in_proj_bias.chunk(3)
    return split_heads(F.linear(x, wk, bk), x.shape[0]), split_heads(F.linear(x, wv, bv), x.shape[0])


def attend(attention, query, k, v, padding=None):
    """Query (N, 1, D) over projected keys and values (N, h, S, D/h) → (N, 1, D)."""
    wq, bq = attention.in_proj_weight.chunk(3)[0], attention.in_proj_bias.chunk(3)[0]
    q = split_heads(F.linear(query, wq, bq), query.shape[0])
    scores = (q / math.sqrt(D // HEADS)) @ k.transpose(-2, -1)  # (N, h, 1, S)
    if padding is not None:
        scores = scores.masked_fill(padding.view(query.shape[0], 1, 1, -1), float('-inf'))
    out = scores.softmax(-1) @ v  # (N, h, 1, D/h)
    return attention.out_proj(out.transpose(1, 2).reshape(query.shape[0], 1, D))


FORBIDDEN = torch.zeros(VOCAB)
FORBIDDEN[[PAD, BOS]] = float('-inf')
last_outputs = []


def greedy(source):
    n = source.shape[0]
    padding = source == PAD
    x = model.src_embed(source) * math.sqrt(D) + model.position_encoding[:source.shape[1]]
    memory = model.transformer.encoder(x, src_key_padding_mask=padding)
    layers = model.transformer.decoder.layers
    memory_kv = [project_kv(layer.multihead_attn, memory) for layer in layers]
    cache = [None] * len(layers)
    last = torch.full((n,), BOS, dtype=torch.long)
    outputs = [[] for _ in range(n)]
    done = [False] * n
    t = 0
    while not all(done):
        h = model.tgt_embed(last.unsqueeze(1)) * math.sqrt(D) + model.position_encoding[t:t + 1]  # (N, 1, D)
        for i, layer in enumerate(layers):
            k, v = project_kv(layer.self_attn, h)
            cache[i] = (k, v) if cache[i] is None else (torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2))
            h = layer.norm1(h + attend(layer.self_attn, h, *cache[i]))
            h = layer.norm2(h + attend(layer.multihead_attn, h, *memory_kv[i], padding))
            h = layer.norm3(h + layer.linear2(F.relu(layer.linear1(h))))
        logits = model.generator(model.transformer.decoder.norm(h)[:, 0])
        values, last = (F.log_softmax(logits, -1) + FORBIDDEN).max(1)
        chosen = last.tolist()
        for j in range(n):
            if done[j]:
                continue
            if chosen[j] == EOS:
                done[j] = True
            else:
                outputs[j].append(chosen[j])
            if t + 1 >= NEW_TOKENS:
                done[j] = True
        t += 1
    return outputs


def decode(calls):
    global last_outputs
    model.eval()
    with torch.no_grad():
        for _ in range(calls):
            last_outputs = greedy(src)


def checksum(sequences):
    total = 0
    for i, s in enumerate(sequences):
        for j, token in enumerate(s):
            total = (total + token * (j + 1) * (i + 1)) % 1_000_003
    return total


blocks = {'train': train, 'decode': decode}
for line in sys.stdin:
    name, calls = line.split()
    if name == 'tokens':
        print(sum(len(s) for s in last_outputs), checksum(last_outputs), flush=True)
        continue
    start = time.perf_counter_ns()
    blocks[name](int(calls))
    print((time.perf_counter_ns() - start) / 1e9, flush=True)
