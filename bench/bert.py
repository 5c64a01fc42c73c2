# The PyTorch side of bench/bert.ts: bert_base_uncased with both pre-training
# heads in the Hugging Face layout (ForPreTraining of
# test/fixtures/make_bert_fixtures.py: exact GELU, LayerNorm eps 1e-12, the
# decoder tied to the word embeddings), dropout 0.1, with the weights NetLab
# drew (a safetensors file), on the inputs bench/bert.ts builds.
#   forward   both heads, eval mode, no gradients;
#   train     train mode; the decoder on the labelled positions only, as
#             NetLab's pretrainingLoss; MLM + NSP cross-entropy, backward,
#             AdamW (lr 1e-4, betas 0.9, 0.999, eps 1e-6, weight decay 0.01
#             off biases and LayerNorm weights).
# Usage: bert.py THREADS WEIGHTS BATCH LENGTH, then lines `forward CALLS` or
# `train CALLS` on stdin, each answered with the seconds the calls took;
# `checksum 0` answers with the mean |prediction logit| of a forward pass.
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures'))
from make_bert_fixtures import ForPreTraining  # noqa: E402
from safetensors_file import read_safetensors  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
WEIGHTS = sys.argv[2]
BATCH, LENGTH = int(sys.argv[3]), int(sys.argv[4])
VOCAB, IGNORE = 30522, -100

config = dict(vocab_size=VOCAB, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
              max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0, dropout=0.1)
model = ForPreTraining(config)
state = read_safetensors(WEIGHTS)[0]
missing, unexpected = model.load_state_dict(state, strict=False)
assert not unexpected and all(k == 'bert.embeddings.position_ids' for k in missing), (missing, unexpected)
decay = [p for p in model.parameters() if p.ndim > 1]
no_decay = [p for p in model.parameters() if p.ndim <= 1]
optimizer = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-4, betas=(0.9, 0.999), eps=1e-6)


def series(count, offset, m):
    """bench/bert.ts's series: (k·7919 + offset) mod m at flat index k."""
    return torch.tensor([(k * 7919 + offset) % m for k in range(count)])


n = BATCH * LENGTH
ids = (series(n, 0, VOCAB - 5) + 5).view(BATCH, LENGTH)
types = torch.tensor([int(k % LENGTH >= LENGTH // 2) for k in range(n)]).view(BATCH, LENGTH)
mask = torch.ones(BATCH, LENGTH, dtype=torch.long)
labels = torch.tensor([(k * 31) % VOCAB if v < 15 else IGNORE for k, v in enumerate(series(n, 3, 100).tolist())]).view(BATCH, LENGTH)
nsp = series(BATCH, 1, 2)


def forward(calls):
    model.eval()
    with torch.no_grad():
        for _ in range(calls):
            model(ids, types, mask)


def train(calls):
    model.train()
    selected = labels != IGNORE
    for _ in range(calls):
        optimizer.zero_grad()
        hidden, pooled = model.bert(ids, types, mask)
        mlm = model.cls.predictions(hidden[selected])
        loss = F.cross_entropy(mlm, labels[selected]) + F.cross_entropy(model.cls.seq_relationship(pooled), nsp)
        loss.backward()
        optimizer.step()


blocks = {'forward': forward, 'train': train}
for line in sys.stdin:
    name, calls = line.split()
    if name == 'checksum':
        model.eval()
        with torch.no_grad():
            print(model(ids, types, mask)['prediction_logits'].abs().mean().item(), flush=True)
        continue
    start = time.perf_counter_ns()
    blocks[name](int(calls))
    print((time.perf_counter_ns() - start) / 1e9, flush=True)
