// The addon's entry point: tensor creation and read-out, handles, global
// settings (threads, seeds, devices) and the direct bindings of the hottest
// elementwise ops. Everything else is reached through ops.cc.
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <thread>

namespace netlab {
namespace {

at::ScalarType readDtype(const Napi::Value& v) {
  int64_t code = readInt(v, "dtype");
  switch (static_cast<at::ScalarType>(code)) {
    case at::kFloat: case at::kDouble: case at::kHalf: case at::kBFloat16: case at::kLong:
    case at::kInt: case at::kShort: case at::kChar: case at::kByte: case at::kBool:
      return static_cast<at::ScalarType>(code);
    default: throw ArgError("unsupported dtype code " + std::to_string(code));
  }
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  return guard(info, "dispose", [&]() -> Napi::Value {
    table().release(readInt(info[0], "tensor"));
    table().flushExternal(info.Env());
    return info.Env().Undefined();
  });
}

// releaseIfLive(id) -> whether the handle was still live; for finalizers,
// which may run after an explicit dispose already freed the slot.
Napi::Value ReleaseIfLive(const Napi::CallbackInfo& info) {
  return guard(info, "dispose", [&]() -> Napi::Value {
    bool live = table().isLive(readInt(info[0], "tensor"));
    if (live) {
      table().release(readInt(info[0], "tensor"));
      table().flushExternal(info.Env());
    }
    return Napi::Boolean::New(info.Env(), live);
  });
}

Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(table().live()));
}

// fromBuffer(typedArray, shape, dtype) copies the bytes into a new CPU tensor.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  return guard(info, "tensor", [&]() -> Napi::Value {
    if (!info[0].IsTypedArray()) throw ArgError("data must be a typed array");
    Napi::TypedArray data = info[0].As<Napi::TypedArray>();
    std::vector<int64_t> shape = readIntList(info[1], "shape");
    at::ScalarType dtype = readDtype(info[2]);
    for (int64_t d : shape)
      if (d < 0) throw ArgError("shape has a negative dimension");
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t nbytes = t.nbytes();
    if (data.ByteLength() != nbytes)
      throw ArgError("data holds " + std::to_string(data.ByteLength()) + " bytes but shape and dtype need " + std::to_string(nbytes));
    if (nbytes) {
      auto* bytes = static_cast<uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset();
      std::memcpy(t.data_ptr(), bytes, nbytes);
    }
    return wrap(info.Env(), std::move(t));
  });
}

// toBuffer(id) copies the elements out into a fresh ArrayBuffer, in row-major
// order; the caller views it with the typed array of the tensor's dtype.
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  return guard(info, "toBuffer", [&]() -> Napi::Value {
    at::Tensor t = readTensor(info[0], "tensor").detach().to(at::kCPU).contiguous();
    Napi::ArrayBuffer out = Napi::ArrayBuffer::New(info.Env(), t.nbytes());
    if (t.nbytes()) std::memcpy(out.Data(), t.data_ptr(), t.nbytes());
    return out;
  });
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  return guard(info, "shape", [&]() -> Napi::Value {
    const at::Tensor& t = readTensor(info[0], "tensor");
    Napi::Array out = Napi::Array::New(info.Env(), t.dim());
    for (int64_t i = 0; i < t.dim(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.size(i))));
    return out;
  });
}

Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return guard(info, "dtype", [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), static_cast<int>(readTensor(info[0], "tensor").scalar_type()));
  });
}

Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  return guard(info, "device", [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), readTensor(info[0], "tensor").device().str());
  });
}

Napi::Value Strides(const Napi::CallbackInfo& info) {
  return guard(info, "stride", [&]() -> Napi::Value {
    const at::Tensor& t = readTensor(info[0], "tensor");
    Napi::Array out = Napi::Array::New(info.Env(), t.dim());
    for (int64_t i = 0; i < t.dim(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.stride(i))));
    return out;
  });
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  return guard(info, "item", [&]() -> Napi::Value {
    const at::Tensor& t = readTensor(info[0], "tensor");
    if (t.numel() != 1)
      throw ArgError("a tensor with " + std::to_string(t.numel()) + " elements cannot be converted to a number (shape " + describe(t) + ")");
    at::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(s.toLong()));
    return Napi::Number::New(info.Env(), s.toDouble());
  });
}

// Same storage and same view: used by tests and by in-place checks.
Napi::Value SameData(const Napi::CallbackInfo& info) {
  return guard(info, "sameData", [&]() -> Napi::Value {
    const at::Tensor& a = readTensor(info[0], "a");
    const at::Tensor& b = readTensor(info[1], "b");
    return Napi::Boolean::New(info.Env(), a.is_same(b) || (a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage())));
  });
}

Napi::Value Clone(const Napi::CallbackInfo& info) {
  // A second handle on the same tensor (not a copy of its data).
  return guard(info, "handle", [&]() -> Napi::Value { return wrap(info.Env(), readTensor(info[0], "tensor")); });
}

// The hottest elementwise ops, bound directly: these skip the boxed
// dispatcher's argument conversion, which would cost about as much as the op.
template <const char* Name, at::Tensor (*Fn)(const at::Tensor&, const at::Tensor&)>
Napi::Value Binary(const Napi::CallbackInfo& info) {
  return guard(info, Name, [&]() -> Napi::Value {
    return wrap(info.Env(), Fn(readTensor(info[0], "self"), readTensor(info[1], "other")));
  });
}

template <const char* Name, at::Tensor (*Fn)(const at::Tensor&, const at::Scalar&)>
Napi::Value BinaryScalar(const Napi::CallbackInfo& info) {
  return guard(info, Name, [&]() -> Napi::Value {
    return wrap(info.Env(), Fn(readTensor(info[0], "self"), readScalar(info[1], "other")));
  });
}

constexpr char kAdd[] = "add";
constexpr char kSub[] = "sub";
constexpr char kMul[] = "mul";
constexpr char kDiv[] = "div";

#define NL_BINARY(name, expr)                                                                          \
  at::Tensor name##TT(const at::Tensor& a, const at::Tensor& b) {                                      \
    try { return expr; } catch (const c10::Error& e) {                                                 \
      throw std::runtime_error(std::string(e.what_without_backtrace()) + " [self=" + describe(a) +     \
                               ", other=" + describe(b) + "]");                                       \
    }                                                                                                  \
  }
NL_BINARY(add, at::add(a, b))
NL_BINARY(sub, at::sub(a, b))
NL_BINARY(mul, at::mul(a, b))
NL_BINARY(div, at::div(a, b))
#undef NL_BINARY
at::Tensor addTS(const at::Tensor& a, const at::Scalar& b) { return at::add(a, b); }
at::Tensor subTS(const at::Tensor& a, const at::Scalar& b) { return at::sub(a, b); }
at::Tensor mulTS(const at::Tensor& a, const at::Scalar& b) { return at::mul(a, b); }
at::Tensor divTS(const at::Tensor& a, const at::Scalar& b) { return at::div(a, b); }

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guard(info, "setNumThreads", [&]() -> Napi::Value {
    int64_t n = readInt(info[0], "threads");
    if (n < 1) throw ArgError("the number of threads must be at least 1, got " + std::to_string(n));
    at::set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

// setFlushDenormal(on) -> whether the CPU supports it (PyTorch's torch.set_flush_denormal).
Napi::Value SetFlushDenormal(const Napi::CallbackInfo& info) {
  return guard(info, "setFlushDenormal", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), at::globalContext().setFlushDenormal(readBool(info[0], "on")));
  });
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  return guard(info, "manualSeed", [&]() -> Napi::Value {
    int64_t seed = readInt(info[0], "seed");
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(static_cast<uint64_t>(seed));
    return info.Env().Undefined();
  });
}

Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  return guard(info, "getRngState", [&]() -> Napi::Value {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return wrap(info.Env(), at::Tensor(gen.get_state()));
  });
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  return guard(info, "setRngState", [&]() -> Napi::Value {
    const at::Tensor& state = readTensor(info[0], "state");
    if (state.scalar_type() != at::kByte || state.dim() != 1)
      throw ArgError("the RNG state must be a 1-D uint8 tensor from getRngState(), got " + describe(state));
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    at::Tensor contiguous = state.contiguous();
    gen.set_state(contiguous);
    return info.Env().Undefined();
  });
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  return guard(info, "setGradEnabled", [&]() -> Napi::Value {
    at::GradMode::set_enabled(readBool(info[0], "enabled"));
    return info.Env().Undefined();
  });
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return guard(info, "cudaDeviceCount", [&]() -> Napi::Value {
    int64_t n = at::hasCUDA() ? static_cast<int64_t>(at::getNumGPUs()) : 0;
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  });
}

// glibc hands every allocation above 32 MB (a batch of activations) to mmap
// and back to the kernel on free, and trims freed memory at the top of the
// heap, so each training or attack step pays page faults to get the same
// memory zeroed again: a fifth of the CPU time of an MNIST PGD run went to
// them. Serving everything from the heap and trimming only above 1 GiB free
// lets freed tensors be reused, as PyTorch's caching allocators do on GPUs.
// A user who sets GLIBC_TUNABLES keeps glibc exactly as configured.
void configureAllocator() {
#if defined(__GLIBC__)
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  configureAllocator();
  auto fn = [&](const char* name, Napi::Function::Callback cb) { exports.Set(name, Napi::Function::New(env, cb, name)); };
  fn("release", Release);
  fn("releaseIfLive", ReleaseIfLive);
  fn("liveTensors", LiveTensors);
  fn("fromBuffer", FromBuffer);
  fn("toBuffer", ToBuffer);
  fn("shape", Shape);
  fn("dtype", Dtype);
  fn("device", DeviceOf);
  fn("strides", Strides);
  fn("item", Item);
  fn("sameData", SameData);
  fn("handle", Clone);
  fn("add", Binary<kAdd, addTT>);
  fn("sub", Binary<kSub, subTT>);
  fn("mul", Binary<kMul, mulTT>);
  fn("div", Binary<kDiv, divTT>);
  fn("addScalar", BinaryScalar<kAdd, addTS>);
  fn("subScalar", BinaryScalar<kSub, subTS>);
  fn("mulScalar", BinaryScalar<kMul, mulTS>);
  fn("divScalar", BinaryScalar<kDiv, divTS>);
  fn("setNumThreads", SetNumThreads);
  fn("getNumThreads", GetNumThreads);
  fn("manualSeed", ManualSeed);
  fn("setFlushDenormal", SetFlushDenormal);
  fn("getRngState", GetRngState);
  fn("setRngState", SetRngState);
  fn("setGradEnabled", SetGradEnabled);
  fn("isGradEnabled", IsGradEnabled);
  fn("cudaDeviceCount", CudaDeviceCount);
  initOps(env, exports);
  initAutograd(env, exports);
  initDistributed(env, exports);
  // Use every core unless the user chose otherwise, as PyTorch does.
  if (!std::getenv("OMP_NUM_THREADS")) {
    unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0) at::set_num_threads(static_cast<int>(cores));
  }
  return exports;
}

}  // namespace
}  // namespace netlab

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return netlab::Init(env, exports); }

NODE_API_MODULE(netlab, InitAddon)
