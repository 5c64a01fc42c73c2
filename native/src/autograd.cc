// Autograd: libtorch's own engine, reached for backward passes, functional
// gradients and the per-tensor flags (requires_grad, .grad, retain_grad).
#include "common.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

namespace netlab {
namespace {

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return guard(info, "requiresGrad", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), readTensor(info[0], "tensor").requires_grad());
  });
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  return guard(info, "requiresGrad_", [&]() -> Napi::Value {
    at::Tensor t = readTensor(info[0], "tensor");
    t.set_requires_grad(readBool(info[1], "requiresGrad"));
    return info.Env().Undefined();
  });
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return guard(info, "isLeaf", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), readTensor(info[0], "tensor").is_leaf());
  });
}

Napi::Value GradFn(const Napi::CallbackInfo& info) {
  return guard(info, "gradFn", [&]() -> Napi::Value {
    const auto& fn = readTensor(info[0], "tensor").grad_fn();
    if (!fn) return info.Env().Null();
    return Napi::String::New(info.Env(), fn->name());
  });
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  return guard(info, "grad", [&]() -> Napi::Value { return wrap(info.Env(), readTensor(info[0], "tensor").grad()); });
}

Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  return guard(info, "grad", [&]() -> Napi::Value {
    at::Tensor t = readTensor(info[0], "tensor");
    if (info[1].IsNull() || info[1].IsUndefined()) {
      t.mutable_grad().reset();
    } else {
      const at::Tensor& g = readTensor(info[1], "grad");
      if (!g.sizes().equals(t.sizes()) || g.scalar_type() != t.scalar_type() || g.device() != t.device())
        throw ArgError("assigned grad " + describe(g) + " does not match the tensor " + describe(t));
      t.mutable_grad() = g;
    }
    return info.Env().Undefined();
  });
}

Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  return guard(info, "retainGrad", [&]() -> Napi::Value {
    readTensor(info[0], "tensor").retain_grad();
    return info.Env().Undefined();
  });
}

// backward(tensors, grads, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guard(info, "backward", [&]() -> Napi::Value {
    auto tensors = readTensorList(info[0], "tensors", false);
    auto grads = readTensorList(info[1], "gradients", true);
    bool retain = readBool(info[2], "retainGraph");
    bool create = readBool(info[3], "createGraph");
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (!tensors[i].requires_grad())
        throw ArgError("element " + std::to_string(i) + " of tensors does not require grad and has no grad_fn");
      if (i < grads.size() && !grads[i].defined() && tensors[i].numel() != 1)
        throw ArgError("grad can be implicitly created only for scalar outputs; this output has shape " + describe(tensors[i]) +
                       ", so pass a gradient");
    }
    torch::autograd::backward(tensors, grads, retain, create);
    return info.Env().Undefined();
  });
}

// grad(outputs, inputs, gradOutputs, retainGraph, createGraph, allowUnused)
// -> array of gradients, null where an unused input has none.
Napi::Value FunctionalGrad(const Napi::CallbackInfo& info) {
  return guard(info, "grad", [&]() -> Napi::Value {
    auto outputs = readTensorList(info[0], "outputs", false);
    auto inputs = readTensorList(info[1], "inputs", false);
    auto gradOutputs = readTensorList(info[2], "gradOutputs", true);
    bool retain = readBool(info[3], "retainGraph");
    bool create = readBool(info[4], "createGraph");
    bool allowUnused = readBool(info[5], "allowUnused");
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!outputs[i].requires_grad())
        throw ArgError("output " + std::to_string(i) + " does not require grad and has no grad_fn");
      if (i < gradOutputs.size() && !gradOutputs[i].defined() && outputs[i].numel() != 1)
        throw ArgError("grad can be implicitly created only for scalar outputs; output " + std::to_string(i) + " has shape " +
                       describe(outputs[i]) + ", so pass gradOutputs");
    }
    for (size_t i = 0; i < inputs.size(); ++i)
      if (!inputs[i].requires_grad()) throw ArgError("input " + std::to_string(i) + " does not require grad");
    auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retain, create, allowUnused);
    Napi::Array out = Napi::Array::New(info.Env(), grads.size());
    for (size_t i = 0; i < grads.size(); ++i) out.Set(static_cast<uint32_t>(i), wrap(info.Env(), grads[i]));
    return out;
  });
}

}  // namespace

void initAutograd(Napi::Env env, Napi::Object exports) {
  auto fn = [&](const char* name, Napi::Function::Callback cb) { exports.Set(name, Napi::Function::New(env, cb, name)); };
  fn("requiresGrad", RequiresGrad);
  fn("setRequiresGrad", SetRequiresGrad);
  fn("isLeaf", IsLeaf);
  fn("gradFn", GradFn);
  fn("grad", Grad);
  fn("setGrad", SetGrad);
  fn("retainGrad", RetainGrad);
  fn("backward", Backward);
  fn("autogradGrad", FunctionalGrad);
}

}  // namespace netlab
