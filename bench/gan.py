# The PyTorch side of bench/gan.ts: the released code's MNIST GAN (a ReLU
# generator, a maxout discriminator with dropout) trained as NetLab's trainer
# does by default — one minibatch, D's and G's gradients at the same point,
# both SGD steps (lr 0.1 / 1.000004 per update, momentum 0.5) — and the
# Parzen-window evaluation computed the same way (float64, squared distances
# from one matrix product, sigma chosen on validation images).
# Usage: gan.py THREADS N VALIDATION, then lines `train CALLS` or `parzen CALLS`.
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
N, VALIDATION = int(sys.argv[2]), int(sys.argv[3])
BATCH, STEPS = 100, 10


class Maxout(nn.Module):
    def __init__(self, inputs, units, pieces):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(inputs, units * pieces)
        nn.init.uniform_(self.linear.weight, -0.005, 0.005)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x):
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(2)


def uniform_linear(inputs, outputs, irange):
    layer = nn.Linear(inputs, outputs)
    nn.init.uniform_(layer.weight, -irange, irange)
    nn.init.zeros_(layer.bias)
    return layer


generator = nn.Sequential(uniform_linear(100, 1200, 0.05), nn.ReLU(), uniform_linear(1200, 1200, 0.05), nn.ReLU(), uniform_linear(1200, 784, 0.05), nn.Sigmoid())
discriminator = nn.Sequential(nn.Dropout(0.2), Maxout(784, 240, 5), nn.Dropout(0.5), Maxout(240, 240, 5), nn.Dropout(0.5), uniform_linear(240, 1, 0.005))
images = torch.rand(BATCH * STEPS, 784)
g_params, d_params = list(generator.parameters()), list(discriminator.parameters())
updates = 0


def train(calls):
    global updates
    for _ in range(calls):
        opt_d = torch.optim.SGD(d_params, lr=0.1, momentum=0.5)
        opt_g = torch.optim.SGD(g_params, lr=0.1, momentum=0.5)
        for real in images[torch.randperm(images.shape[0])].split(BATCH):
            for opt in (opt_d, opt_g):
                opt.param_groups[0]['lr'] = max(0.1 / 1.000004 ** updates, 1e-6)
            z = torch.rand(BATCH, 100) * (2 * math.sqrt(3)) - math.sqrt(3)
            fake = generator(z)
            real_logits, fake_logits = discriminator(real).view(-1), discriminator(fake).view(-1)
            loss_d = 0.5 * (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())
            loss_g = F.softplus(-fake_logits).mean()
            d_grads = torch.autograd.grad(loss_d, d_params, retain_graph=True)
            g_grads = torch.autograd.grad(loss_g, g_params)
            for p, g in zip(d_params + g_params, d_grads + g_grads):
                p.grad = g
            opt_d.step()
            opt_g.step()
            loss_d.item(), loss_g.item(), torch.sigmoid(real_logits).mean().item(), torch.sigmoid(fake_logits).mean().item()
            updates += 1


samples, validation, test = torch.rand(N, 784), torch.rand(VALIDATION, 784), torch.rand(N, 784)
SIGMAS = [10 ** (-1 + i / 9) for i in range(10)]


def log_likelihoods(x, mu, sigmas, batch=500):
    mu = mu.double()
    mu_t, mu_norms = mu.t().contiguous(), mu.square().sum(1)
    out = [[] for _ in sigmas]
    for rows in x.split(batch):
        rows = rows.double()
        d2 = (rows.square().sum(1, keepdim=True) + mu_norms - 2 * rows @ mu_t).clamp(min=0)
        for i, sigma in enumerate(sigmas):
            out[i].append(torch.logsumexp(d2 * (-0.5 / sigma ** 2), 1) - math.log(mu.shape[0]) - mu.shape[1] * math.log(sigma * math.sqrt(2 * math.pi)))
    return [torch.cat(o) for o in out]


def parzen(calls):
    for _ in range(calls):
        scores = [ll.mean().item() for ll in log_likelihoods(validation, samples, SIGMAS)]
        sigma = SIGMAS[scores.index(max(scores))]
        ll = log_likelihoods(test, samples, [sigma])[0]
        ll.mean().item(), (ll.std(unbiased=False) / math.sqrt(ll.shape[0])).item()


generator.train()
discriminator.train()
blocks = {"train": train, "parzen": parzen}
for line in sys.stdin:
    name, calls = line.split()
    start = time.perf_counter_ns()
    blocks[name](int(calls))
    print((time.perf_counter_ns() - start) / 1e9, flush=True)
