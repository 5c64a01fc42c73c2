#!/usr/bin/python3
"""Full-size parity of NetLab's registered models with torchvision 0.14.

The committed test fixtures check small inputs; this script checks every
full-size model of a family at its real input size. It needs Debian's
python3-torch and python3-torchvision (hence /usr/bin/python3) and a compiled
NetLab:

    npx tsc -p . --outDir dist     # or any --outDir, passed as --dist
    /usr/bin/python3 scripts/check_torchvision_full.py [--dist dist] [family ...]

One function per model family (see FAMILIES): it computes torchvision's
reference in Python, writes it to a temporary folder, runs a short Node
program that builds the same model in NetLab and prints its results as one
JSON line, and checks them. Exit status 0 when every check passes.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test' / 'fixtures'))
from safetensors_file import write_safetensors  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run_node(dist, source, workdir):
    """Runs ES-module `source` with NETLAB_DIST (absolute) and WORKDIR in its
    environment; returns the JSON printed on its last line of output."""
    env = {'NETLAB_DIST': str(Path(dist).resolve()), 'WORKDIR': str(workdir), 'PATH': '/usr/local/bin:/usr/bin:/bin'}
    done = subprocess.run(['node', '--input-type=module', '-e', source], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f'node failed ({done.returncode}):\n{done.stderr}')
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- resnet

RESNET_NODE = r"""
const dist = process.env.NETLAB_DIST, dir = process.env.WORKDIR;
const { manualSeed, noGrad } = await import(`${dist}/src/index.js`);
const { getModel, parameterCount } = await import(`${dist}/src/models/registry.js`);
const { loadSafetensors } = await import(`${dist}/src/io/safetensors.js`);
const { tensors, metadata } = loadSafetensors(`${dir}/reference.safetensors`);
const name = metadata.name;
manualSeed(Number(metadata.seed));
const model = getModel(name);
const keys = [...model.stateDict()].map(([k, t]) => `${k}\t[${t.shape.join(', ')}]`);
const relErr = (a, b) => a.sub(b).abs().max().item() / b.abs().max().item();
const x = tensors.get('input');
const result = { name, parameters: parameterCount(model), keys };
noGrad(() => {
  model.eval();
  result.eval = relErr(model.forward(x), tensors.get('eval'));
  model.train();
  result.train = relErr(model.forward(x), tensors.get('train'));
});
console.log(JSON.stringify(result));
"""

RESNET_PARAMETERS = {'resnet18': 11_689_512, 'resnet34': 21_797_672, 'resnet50': 25_557_032, 'resnet101': 44_549_160, 'resnet152': 60_192_808}


def check_resnet(dist):
    """ResNet-18 … 152 on 2×3×224×224: keys and shapes, parameter counts, and
    logits in eval and train mode within 1e-4 of the logits' largest magnitude.
    Both sides build the model from seed 0 (NetLab draws libtorch's numbers in
    torchvision's order, so no weights travel)."""
    failures = []
    for name, count in RESNET_PARAMETERS.items():
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)()
        torch.manual_seed(1)
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            ref = {'input': x, 'eval': model.eval()(x), 'train': model.train()(x)}
        keys = [f'{k}\t[{", ".join(map(str, v.shape))}]' for k, v in model.state_dict().items()]
        with tempfile.TemporaryDirectory() as tmp:
            write_safetensors(Path(tmp) / 'reference.safetensors', ref, {'name': name, 'seed': '0'})
            got = run_node(dist, RESNET_NODE, tmp)
        ok = got['keys'] == keys and got['parameters'] == count == sum(p.numel() for p in model.parameters()) and got['eval'] <= 1e-4 and got['train'] <= 1e-4
        print(f"{name}: parameters {got['parameters']:,} (torchvision {count:,}), keys {'equal' if got['keys'] == keys else 'DIFFER'}, "
              f"logits max error / max |logit|: eval {got['eval']:.2e}, train {got['train']:.2e} -> {'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(name)
    return failures


# ---------------------------------------------------------------- vit

VIT_NODE = r"""
const dist = process.env.NETLAB_DIST, dir = process.env.WORKDIR;
const { noGrad } = await import(`${dist}/src/index.js`);
const { parameterCount } = await import(`${dist}/src/models/registry.js`);
const { vitB16 } = await import(`${dist}/src/models/vit.js`);
const { loadSafetensors } = await import(`${dist}/src/io/safetensors.js`);
const { tensors } = loadSafetensors(`${dir}/reference.safetensors`);
const model = vitB16();
const keys = [...model.stateDict()].map(([k, t]) => `${k}\t[${t.shape.join(', ')}]`);
const weights = new Map([...tensors].filter(([k]) => k.startsWith('sd/')).map(([k, t]) => [k.slice(3), t]));
model.loadStateDict(weights);
const relErr = (a, b) => a.sub(b).abs().max().item() / b.abs().max().item();
const result = { parameters: parameterCount(model), keys };
noGrad(() => {
  model.eval();
  result.eval = relErr(model.forward(tensors.get('input')), tensors.get('eval'));
  model.train();
  result.train = relErr(model.forward(tensors.get('input')), tensors.get('train'));
  model.eval();
  model.resizeImageSize(384);
  result.eval384 = relErr(model.forward(tensors.get('input384')), tensors.get('eval384'));
});
console.log(JSON.stringify(result));
"""


def check_vit(dist):
    """vit_b_16 on 2×3×224×224: keys and shapes, the parameter count, and
    logits in eval and train mode (dropout 0) within 1e-4 of the logits'
    largest magnitude; then the model moved to 384×384 by NetLab's
    resizeImageSize against torchvision's interpolate_embeddings. NetLab draws
    its initial weights in another order, so torchvision's random weights
    travel in a temporary safetensors file (the class token and the
    zero-initialised head made random, else every logit would be 0)."""
    torch.manual_seed(0)
    model = torchvision.models.vit_b_16()
    with torch.no_grad():
        model.class_token.normal_(0, 0.02)
        model.heads.head.weight.normal_(0, 0.02)
        model.heads.head.bias.normal_(0, 0.02)
    torch.manual_seed(1)
    x = torch.rand(2, 3, 224, 224)
    x384 = torch.rand(1, 3, 384, 384)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        ref = {'input': x, 'eval': model.eval()(x), 'train': model.train()(x), 'input384': x384}
        large = torchvision.models.vit_b_16(image_size=384)
        large.load_state_dict(torchvision.models.vision_transformer.interpolate_embeddings(384, 16, dict(state)))
        ref['eval384'] = large.eval()(x384)
        del large
    ref.update({f'sd/{k}': v for k, v in state.items()})
    keys = [f'{k}\t[{", ".join(map(str, v.shape))}]' for k, v in state.items()]
    count = sum(p.numel() for p in model.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        write_safetensors(Path(tmp) / 'reference.safetensors', ref)
        del ref, state
        got = run_node(dist, VIT_NODE, tmp)
    ok = got['keys'] == keys and got['parameters'] == count == 86_567_656 and max(got['eval'], got['train'], got['eval384']) <= 1e-4
    print(f"vit_b_16: parameters {got['parameters']:,} (torchvision {count:,}), keys {'equal' if got['keys'] == keys else 'DIFFER'}, "
          f"logits max error / max |logit|: eval {got['eval']:.2e}, train {got['train']:.2e}, "
          f"384×384 after resizing {got['eval384']:.2e} -> {'ok' if ok else 'FAIL'}")
    return [] if ok else ['vit_b_16']


# ---------------------------------------------------------------- swin

SWIN_NODE = r"""
const dist = process.env.NETLAB_DIST, dir = process.env.WORKDIR;
const { grad, noGrad } = await import(`${dist}/src/index.js`);
const { parameterCount } = await import(`${dist}/src/models/registry.js`);
const { swinT } = await import(`${dist}/src/models/swin.js`);
const { loadSafetensors } = await import(`${dist}/src/io/safetensors.js`);
const { tensors } = loadSafetensors(`${dir}/reference.safetensors`);
// Stochastic depth 0, so that train mode is deterministic; it has no weights.
const model = swinT({ stochasticDepthProb: 0 });
const keys = [...model.stateDict()].map(([k, t]) => `${k}\t[${t.shape.join(', ')}]\t${t.dtype}`);
model.loadStateDict(new Map([...tensors].filter(([k]) => k.startsWith('sd/')).map(([k, t]) => [k.slice(3), t])));
const relErr = (a, b) => a.sub(b).abs().max().item() / b.abs().max().item();
const result = { parameters: parameterCount(model), keys };
model.eval();
noGrad(() => {
  result.eval = relErr(model.forward(tensors.get('input')), tensors.get('eval'));
  result.evalOdd = relErr(model.forward(tensors.get('input_odd')), tensors.get('eval_odd'));
});
model.train();
const x = tensors.get('input').detach().requiresGrad_(true);
const logits = model.forward(x);
result.train = relErr(logits, tensors.get('train'));
const [gx] = grad(logits.mul(tensors.get('cot')).sum(), [x]);
result.gradInput = relErr(gx, tensors.get('grad_input'));
console.log(JSON.stringify(result));
"""


def check_swin(dist):
    """swin_t on 2×3×224×224: keys, shapes and dtypes of the state dict, the
    parameter count (28,288,354), logits in eval mode, in train mode with
    stochastic depth 0, and the input gradient of the train logits, each within
    1e-4 of the reference's largest magnitude; then eval logits on a
    1×3×200×232 image, whose token maps need padding to whole 7×7 windows and
    odd-size patch merging. NetLab draws its initial weights in another order,
    so torchvision's random weights travel in a temporary safetensors file (its
    zero biases, unit norms and tiny bias tables perturbed, so they count)."""
    torch.manual_seed(0)
    model = torchvision.models.swin_t()
    # swin_t fixes its stochastic depth (0.2); turned off, train mode is deterministic.
    for m in model.modules():
        if isinstance(m, torchvision.ops.StochasticDepth):
            m.p = 0.0
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 or 'relative_position_bias_table' in name:
                p.add_(0.1 * torch.randn_like(p))
    torch.manual_seed(1)
    x = torch.rand(2, 3, 224, 224, requires_grad=True)
    x_odd = torch.rand(1, 3, 200, 232)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.train()
    train = model(x)
    cot = torch.randn_like(train)
    (grad_input,) = torch.autograd.grad((train * cot).sum(), [x])
    with torch.no_grad():
        model.eval()
        ref = {'input': x.detach(), 'eval': model(x), 'train': train.detach(), 'cot': cot, 'grad_input': grad_input, 'input_odd': x_odd, 'eval_odd': model(x_odd)}
    ref.update({f'sd/{k}': v for k, v in state.items()})
    keys = [f'{k}\t[{", ".join(map(str, v.shape))}]\t{str(v.dtype).replace("torch.", "")}' for k, v in state.items()]
    count = sum(p.numel() for p in model.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        write_safetensors(Path(tmp) / 'reference.safetensors', ref)
        del ref, state
        got = run_node(dist, SWIN_NODE, tmp)
    errors = [got['eval'], got['train'], got['gradInput'], got['evalOdd']]
    ok = got['keys'] == keys and got['parameters'] == count == 28_288_354 and max(errors) <= 1e-4
    print(f"swin_t: parameters {got['parameters']:,} (torchvision {count:,}), keys {'equal' if got['keys'] == keys else 'DIFFER'}, "
          f"max error / max |reference|: eval {got['eval']:.2e}, train {got['train']:.2e}, input gradient {got['gradInput']:.2e}, "
          f"200×232 eval {got['evalOdd']:.2e} -> {'ok' if ok else 'FAIL'}")
    return [] if ok else ['swin_t']


FAMILIES = {
    'resnet': check_resnet,
    'vit': check_vit,
    'swin': check_swin,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dist', default=str(ROOT / 'dist'), help='NetLab compiled by tsc (default: dist)')
    parser.add_argument('families', nargs='*', help=f'families to check: {", ".join(FAMILIES)} (default: all)')
    args = parser.parse_args()
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown:
        parser.error(f'unknown families {unknown}; known: {", ".join(FAMILIES)}')
    print(f'torch {torch.__version__}, torchvision {torchvision.__version__}')
    failures = []
    for family in args.families or FAMILIES:
        failures += FAMILIES[family](args.dist)
    if failures:
        sys.exit(f'FAILED: {", ".join(failures)}')
    print('all checks passed')


if __name__ == '__main__':
    main()
