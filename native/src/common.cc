#include "common.h"

#include <sstream>

namespace netlab {

namespace {
// V8 is told about native memory in steps of this size, so that small
// tensors do not pay for a call into the garbage collector's accounting.
constexpr int64_t kExternalStep = 4 << 20;
}  // namespace

TensorTable& table() {
  static TensorTable instance;
  return instance;
}

int64_t TensorTable::insert(at::Tensor t) {
  int64_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<int64_t>(slots_.size());
    if (slot > kSlotMask) throw std::runtime_error("too many live tensors (16,777,216): dispose tensors that are no longer needed");
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.bytes = 0;
  if (t.defined() && t.has_storage()) {
    const c10::Storage& storage = t.storage();
    // Only the first handle of a storage counts it, so views are free.
    if (storage.use_count() == 1) s.bytes = static_cast<int64_t>(storage.nbytes());
  }
  pending_ += s.bytes;
  s.tensor = std::move(t);
  ++live_;
  return s.generation * (kSlotMask + 1) + slot;
}

bool TensorTable::isLive(int64_t id) const {
  int64_t slot = id & kSlotMask;
  int64_t generation = id >> kSlotBits;
  return id >= 0 && slot < static_cast<int64_t>(slots_.size()) && slots_[slot].generation == generation &&
         slots_[slot].tensor.defined();
}

const at::Tensor& TensorTable::get(int64_t id) const {
  if (!isLive(id)) throw ArgError("the tensor has been disposed");
  return slots_[id & kSlotMask].tensor;
}

void TensorTable::release(int64_t id) {
  if (!isLive(id)) throw ArgError("the tensor has already been disposed");
  Slot& s = slots_[id & kSlotMask];
  s.tensor.reset();
  pending_ -= s.bytes;
  s.bytes = 0;
  ++s.generation;
  free_.push_back(id & kSlotMask);
  --live_;
}

void TensorTable::flushExternal(Napi::Env env) {
  if (pending_ >= kExternalStep || pending_ <= -kExternalStep) {
    Napi::MemoryManagement::AdjustExternalMemory(env, pending_);
    pending_ = 0;
  }
}

std::string dtypeName(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(s);
  }
}

std::string describe(const at::Tensor& t) {
  if (!t.defined()) return "undefined tensor";
  std::ostringstream out;
  out << dtypeName(t.scalar_type()) << "[";
  for (int64_t i = 0; i < t.dim(); ++i) out << (i ? ", " : "") << t.size(i);
  out << "]";
  if (!t.device().is_cpu()) out << " on " << t.device().str();
  return out.str();
}

int64_t readInt(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw ArgError(std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) throw ArgError(std::string(what) + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

double readDouble(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw ArgError(std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool readBool(const Napi::Value& v, const char* what) {
  if (!v.IsBoolean()) throw ArgError(std::string(what) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

const at::Tensor& readTensor(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw ArgError(std::string(what) + " must be a tensor");
  return table().get(static_cast<int64_t>(v.As<Napi::Number>().DoubleValue()));
}

std::vector<int64_t> readIntList(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw ArgError(std::string(what) + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = readInt(a.Get(i), what);
  return out;
}

at::Scalar readScalar(const Napi::Value& v, const char* what) {
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  if (!v.IsNumber()) throw ArgError(std::string(what) + " must be a number or a boolean");
  double d = v.As<Napi::Number>().DoubleValue();
  // Integral values become integer scalars, as Python's `2` would.
  if (d == static_cast<double>(static_cast<int64_t>(d)) && d >= -9007199254740992.0 && d <= 9007199254740992.0)
    return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

std::vector<at::Tensor> readTensorList(const Napi::Value& v, const char* what, bool allowNull) {
  if (!v.IsArray()) throw ArgError(std::string(what) + " must be an array of tensors");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (allowNull && (e.IsNull() || e.IsUndefined())) out.emplace_back();
    else out.push_back(readTensor(e, what));
  }
  return out;
}

Napi::Value wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  TensorTable& tt = table();
  int64_t id = tt.insert(std::move(t));
  tt.flushExternal(env);
  return Napi::Number::New(env, static_cast<double>(id));
}

}  // namespace netlab
