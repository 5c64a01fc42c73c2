# AutoAttack's algorithms in PyTorch, written step for step as NetLab's
# src/attacks/{apgd,fab,square}.ts and src/eval/autoattack.ts run them: the
# PyTorch side of bench/autoattack.ts, and the source of the parity fixtures
# (test/fixtures/make_autoattack_fixtures.py). The reference these follow is
# Croce & Hein's fra31/auto-attack; where NetLab departs from it (APGD's first
# oscillation count compares with the starting loss, Square's L-inf signs are
# drawn per example and its squares may reach the last row), so does this.
import math
import time

import torch
import torch.nn.functional as F

TINY = 1e-12


def example_norm(t, norm):
    flat = t.flatten(1)
    return flat.abs().amax(1) if norm == 'linf' else flat.norm(dim=1)


def per_example(t, ndim):
    return t.view(-1, *([1] * (ndim - 1)))


def dlr_loss(z, y):
    zs, ind = z.sort(dim=1)
    zy = z.gather(1, y[:, None])[:, 0]
    other = torch.where(ind[:, -1] == y, zs[:, -2], zs[:, -1])
    return -(zy - other) / (zs[:, -1] - zs[:, -3] + TINY)


def targeted_dlr_loss(z, y, t):
    zs = z.sort(dim=1)[0]
    zy, zt = z.gather(1, y[:, None])[:, 0], z.gather(1, t[:, None])[:, 0]
    return -(zy - zt) / (zs[:, -1] - 0.5 * (zs[:, -3] + zs[:, -4]) + TINY)


def apgd_checkpoints(steps):
    first, shrink, least = max(int(0.22 * steps), 1), max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    points, at, gap = [], first, first
    while at <= steps:
        points.append(at)
        gap = max(gap - shrink, least)
        at += gap
    return points


def apgd_run(model, x, loss_of, hit, norm, eps, steps, rho=0.75, start=None, box=(0.0, 1.0)):
    """One APGD run; returns (point, success, best loss). `start` replaces the random start."""
    lo, hi = box
    nd = x.ndim

    def project(v):
        if norm == 'linf':
            return torch.min(torch.max(v, (x - eps).clamp(min=lo)), (x + eps).clamp(max=hi))
        d = v - x
        n = example_norm(d, 'l2')
        return (x + d / per_example(n + TINY, nd) * per_example(n.clamp(max=eps), nd)).clamp(lo, hi)

    def grad_at(p):
        p = p.clone().requires_grad_(True)
        with torch.enable_grad():
            z = model(p)
            loss = loss_of(z)
            g, = torch.autograd.grad(loss.sum(), p)
        return g.detach(), loss.detach(), z.detach()

    if start is None:
        t = torch.rand_like(x) * 2 - 1 if norm == 'linf' else torch.randn_like(x)
        start = (x + t / per_example(example_norm(t, norm) + TINY, nd) * eps).clamp(lo, hi)
    x_adv = start.clone()
    grad, loss, z = grad_at(x_adv)
    x_old, x_best, grad_best, loss_best, x_best_adv = x_adv.clone(), x_adv.clone(), grad.clone(), loss.clone(), x_adv.clone()
    success = hit(z)
    step = torch.full((x.shape[0],), 2.0 * eps)
    loss_last_check, reduced_last = loss_best.clone(), torch.ones(x.shape[0], dtype=torch.bool)
    losses = [loss.clone()]
    checks = set(apgd_checkpoints(steps))
    since = 0
    for i in range(steps):
        with torch.no_grad():
            a = 0.75 if i > 0 else 1.0
            direction = grad.sign() if norm == 'linf' else grad / per_example(example_norm(grad, 'l2') + TINY, nd)
            zz = project(x_adv + direction * per_example(step, nd))
            moved = project(x_adv + (zz - x_adv) * a + (x_adv - x_old) * (1 - a))
        g, l, zl = grad_at(moved)
        losses.append(l.clone())
        since += 1
        now = hit(zl)
        improved = l > loss_best
        x_old, x_adv, grad = x_adv, moved, g
        x_best_adv = torch.where(per_example(now, nd), moved, x_best_adv)
        success = success | now
        x_best = torch.where(per_example(improved, nd), moved, x_best)
        grad_best = torch.where(per_example(improved, nd), g, grad_best)
        loss_best = torch.where(improved, l, loss_best)
        if i + 1 in checks:
            rises = sum((losses[j + 1] > losses[j]).float() for j in range(i - since + 1, i + 1))
            reduce = (rises <= since * rho) | (~reduced_last & (loss_last_check >= loss_best))
            step = torch.where(reduce, step * 0.5, step)
            x_adv = torch.where(per_example(reduce, nd), x_best, x_adv)
            grad = torch.where(per_example(reduce, nd), grad_best, grad)
            reduced_last, loss_last_check = reduce, loss_best.clone()
            since = 0
    return torch.where(per_example(success, nd), x_best_adv, x_best), success, loss_best


def project_onto_hyperplane(t, w, b, norm, box=(0.0, 1.0)):
    """The smallest change moving each row of t onto w.z = b inside the box (as far as the box allows)."""
    lo, hi = box
    gap = b - (w * t).sum(1)
    direction = w.sign() * (gap.sign() + (gap == 0).float())[:, None]
    room = torch.where(direction > 0, hi - t, t - lo) * (direction != 0).float()
    a = w.abs()
    if norm == 'linf':
        breaks, rate = room, a
    else:
        breaks, rate = room / a.clamp(min=TINY) * (a > 0).float() + (a == 0).float() * 1e10, a * a
    sorted_breaks, ind = breaks.sort(dim=1)
    rates = rate.gather(1, ind)
    saturated = (rates * sorted_breaks).cumsum(1)
    # Σ of the rates after each breakpoint, as suffix sums: exactly zero past the last non-zero rate.
    remaining = F.pad(rates.flip(1).cumsum(1).flip(1)[:, 1:], (0, 1))
    progress = saturated + sorted_breaks * remaining
    needed = gap.abs()[:, None]
    before = (progress < needed).sum(1, keepdim=True)
    reachable = before < breaks.shape[1]
    last = (before - 1).clamp(min=0)
    passed = (before > 0).float()
    done = saturated.gather(1, last) * passed
    left = torch.where(passed > 0, remaining.gather(1, last), rate.sum(1, keepdim=True))
    lam = (needed - done) / left.clamp(min=TINY)
    scaled = lam.expand_as(room) if norm == 'linf' else lam * a
    move = torch.where(reachable, torch.min(scaled, room), room)
    return move * direction * (a > 0).float()


def fab_run(model, x0, y, target, norm, eps, steps, alpha_max=0.1, eta=1.05, beta=0.9, random_start=False, box=(0.0, 1.0)):
    """One targeted FAB run; returns (point, success, -distance)."""
    lo, hi = box
    nd = x0.ndim
    flat0 = x0.flatten(1)
    x1 = x0.clone()
    if random_start:
        t = torch.rand_like(x0) * 2 - 1 if norm == 'linf' else torch.randn_like(x0)
        x1 = (x0 + t / per_example(example_norm(t, norm), nd) * (eps * 0.5)).clamp(lo, hi)
    adv, distance = x0.clone(), torch.full((x0.shape[0],), 1e10)
    for _ in range(steps):
        xr = x1.clone().requires_grad_(True)
        with torch.enable_grad():
            z = model(xr)
            diff = (z.gather(1, target[:, None]) - z.gather(1, y[:, None]))[:, 0]
            g, = torch.autograd.grad(diff.sum(), xr)
        with torch.no_grad():
            w = g.flatten(1)
            b = (w * x1.flatten(1)).sum(1) - diff
            d1 = project_onto_hyperplane(x1.flatten(1), w, b, norm, box)
            d2 = project_onto_hyperplane(flat0, w, b, norm, box)
            a1, a2 = example_norm(d1, norm).clamp(min=1e-8), example_norm(d2, norm).clamp(min=1e-8)
            alpha = (a1 / (a1 + a2)).clamp(0, alpha_max)[:, None]
            moved = ((x1.flatten(1) + eta * d1) * (1 - alpha) + (flat0 + eta * d2) * alpha).clamp(lo, hi).view(x0.shape)
            is_adv = model(moved).argmax(1) != y
            dist = example_norm(moved - x0, norm)
            closer = is_adv & (dist < distance)
            x1 = torch.where(per_example(is_adv, nd), x0 + (moved - x0) * beta, moved)
            adv = torch.where(per_example(closer, nd), moved, adv)
            distance = torch.where(closer, dist, distance)
    success = distance <= eps
    return torch.where(per_example(success, nd), adv, x0), success, -distance


def square_fraction(iteration, p_init, queries, rescale):
    it = int(iteration / queries * 10000) if rescale else iteration
    return p_init / 2 ** sum(it > at for at in (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000))


def square_pattern(s, transpose):
    cells = torch.zeros(s, s, dtype=torch.float64)
    half = s // 2

    def rectangles(rows, offset, sign):
        r0, c0 = rows // 2, s // 2
        for k in range(max(rows // 2 + 1, s // 2 + 1)):
            cells[offset + max(r0, 0):offset + min(r0 + 2 * k + 1, rows), max(c0, 0):min(c0 + 2 * k + 1, s)] += sign / (k + 1) ** 2
            r0, c0 = r0 - 1, c0 - 1

    rectangles(half, 0, 1.0)
    cells[:half] /= cells[:half].square().sum().sqrt()
    rectangles(s - half, half, -1.0)
    cells[half:] /= cells[half:].square().sum().sqrt()
    cells /= cells.square().sum().sqrt()
    return (cells.t() if transpose else cells).float()


def signs(shape):
    return torch.randint(0, 2, shape).float() * 2 - 1


def square_run(model, x, y, norm, eps, queries, p_init=0.8, box=(0.0, 1.0)):
    """Untargeted Square (margin loss); returns (point, success, -margin)."""
    lo, hi = box
    n, c, h, w = x.shape
    lower, upper = (x - eps).clamp(min=lo), (x + eps).clamp(max=hi)

    def margin_of(p):
        z = model(p)
        zy = z.gather(1, y_now[:, None])[:, 0]
        return zy - z.scatter(1, y_now[:, None], float('-inf')).amax(1)

    def place(block, row, col):
        side = block.shape[-1]
        return F.pad(block, (col, w - side - col, row, h - side - row))

    def pattern(s):
        return square_pattern(s, torch.rand(1).item() > 0.5)

    def to_budget(d):
        return d / per_example(example_norm(d, 'l2') + 1e-12, 4) * eps

    with torch.no_grad():
        if norm == 'linf':
            best = (x + signs((n, c, 1, w)) * eps).clamp(lo, hi)
        else:
            s = max(h // 5, 1)
            off = (h - 5 * s) // 2
            delta = torch.zeros_like(x)
            for i in range(h // s):
                row = off + i * s
                if row + s > h:
                    break
                for j in range(w // s):
                    col = off + j * s
                    if col + s > w:
                        break
                    delta = delta + place(pattern(s) * signs((n, c, 1, 1)), row, col)
            best = (x + to_budget(delta)).clamp(lo, hi)
        y_now = y
        margin = margin_of(best)
        loss = margin.clone()
        for i in range(queries):
            working = (margin > 0).nonzero().flatten()
            if working.numel() == 0:
                break
            xs, best_now, margin_now, loss_now, y_now = x[working], best[working], margin[working], loss[working], y[working]
            m = working.numel()
            p = square_fraction(i, p_init, queries, False)
            side = max(round(math.sqrt(p * h * w)), 1 if norm == 'linf' else 3)
            if norm == 'l2' and side % 2 == 0:
                side += 1
            side = min(side, h, w)
            row, col = torch.randint(0, h - side + 1, (1,)).item(), torch.randint(0, w - side + 1, (1,)).item()
            if norm == 'linf':
                sq = place((signs((m, c, 1, 1)) * (2 * eps)).expand(m, c, side, side), row, col)
                cand = torch.min(torch.max(best_now + sq, lower[working]), upper[working])
            else:
                delta = best_now - xs
                row2, col2 = torch.randint(0, h - side + 1, (1,)).item(), torch.randint(0, w - side + 1, (1,)).item()
                window1 = delta[:, :, row:row + side, col:col + side]
                mask1, mask2 = place(torch.ones(1, 1, side, side), row, col), place(torch.ones(1, 1, side, side), row2, col2)
                wnorm = lambda t: t.square().sum((2, 3), keepdim=True).sqrt()
                image_norm = per_example(example_norm(delta, 'l2'), 4)
                in_windows = wnorm(delta * torch.max(mask1, mask2))
                fresh = pattern(side).view(1, 1, side, side) * signs((m, c, 1, 1))
                fresh = fresh + window1 / (wnorm(window1) + 1e-12)
                budget = ((eps ** 2 - image_norm.square()).clamp(min=0) / c + in_windows.square()).sqrt()
                fresh = fresh / (wnorm(fresh) + 1e-12) * budget
                updated = delta * (1 - mask2) * (1 - mask1) + place(fresh, row, col)
                cand = (xs + to_budget(updated)).clamp(lo, hi)
            mc = margin_of(cand)
            lowered = mc < loss_now
            accept = lowered | (mc <= 0)
            best[working] = torch.where(per_example(accept, 4), cand, best_now)
            margin[working] = torch.where(accept, mc, margin_now)
            loss[working] = torch.where(lowered, mc, loss_now)
    return best, margin <= 0, -margin


def best_of_runs(x, attempt, times):
    best_x, success, score = x.clone(), torch.zeros(x.shape[0], dtype=torch.bool), torch.full((x.shape[0],), float('-inf'))
    for r in range(times):
        idx = None if r == 0 else (~success).nonzero().flatten()
        if idx is not None and idx.numel() == 0:
            break
        rx, rs, rscore = attempt(idx, r)
        if idx is None:
            best_x, success, score = rx, rs, rscore
        else:
            better = rs | (rscore > score[idx])
            best_x[idx] = torch.where(per_example(better, x.ndim), rx, best_x[idx])
            success[idx] = rs
            score[idx] = torch.where(better, rscore, score[idx])
    return best_x, success


def auto_attack(model, x, y, eps, norm='linf', seed=0, batch=500):
    """Standard AutoAttack; returns (name, robust accuracy, seconds) for the clean pass and each stage."""
    with torch.no_grad():
        robust = torch.cat([model(x[i:i + batch]).argmax(1) == y[i:i + batch] for i in range(0, x.shape[0], batch)])
    accuracies = [('clean', robust.float().mean().item(), 0.0)]

    def apgd_ce(xs, ys):
        return apgd_run(model, xs, lambda z: F.cross_entropy(z, ys, reduction='none'), lambda z: z.argmax(1) != ys, norm, eps, 100)[:2]

    def apgd_t(xs, ys):
        with torch.no_grad():
            ranking = model(xs).argsort(dim=1, descending=True)

        def attempt(idx, r):
            pick = (lambda t: t) if idx is None else (lambda t: t[idx])
            yy, tt = pick(ys), pick(ranking[:, r + 1])
            return apgd_run(model, pick(xs), lambda z: targeted_dlr_loss(z, yy, tt), lambda z: z.argmax(1) != yy, norm, eps, 100)
        return best_of_runs(xs, attempt, 9)

    def fab_t(xs, ys):
        with torch.no_grad():
            ranking = model(xs).argsort(dim=1, descending=True)

        def attempt(idx, r):
            pick = (lambda t: t) if idx is None else (lambda t: t[idx])
            return fab_run(model, pick(xs), pick(ys), pick(ranking[:, r + 1]), norm, eps, 100)
        return best_of_runs(xs, attempt, 9)

    def square(xs, ys):
        return square_run(model, xs, ys, norm, eps, 5000)[:2]

    for name, attack in (('APGD-CE', apgd_ce), ('APGD-T', apgd_t), ('FAB-T', fab_t), ('Square', square)):
        idx = robust.nonzero().flatten()
        if idx.numel() == 0:
            break
        started = time.perf_counter()
        torch.manual_seed(seed)
        for b in range(0, idx.numel(), batch):
            part = idx[b:b + batch]
            adv, _ = attack(x[part], y[part])
            with torch.no_grad():
                robust[part[model(adv).argmax(1) != y[part]]] = False
        accuracies.append((name, robust.float().mean().item(), time.perf_counter() - started))
    return accuracies

