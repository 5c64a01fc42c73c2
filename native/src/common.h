// Shared pieces of the addon: the tensor handle table, error conversion and
// argument readers. Every N-API entry point runs its body through NL_GUARD so
// that no c10::Error or std::exception can escape into Node and abort it.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace netlab {

// Tensors live in a table on the native side; JavaScript holds a number that
// names a slot and its generation (id = generation * 2^24 + slot), so a stale
// id of a disposed tensor is detected instead of reaching a reused slot.
class TensorTable {
 public:
  static constexpr int64_t kSlotBits = 24;
  static constexpr int64_t kSlotMask = (int64_t(1) << kSlotBits) - 1;

  int64_t insert(at::Tensor t);
  const at::Tensor& get(int64_t id) const;
  void release(int64_t id);
  bool isLive(int64_t id) const;
  int64_t live() const { return live_; }
  // Bytes of storage owned by live handles, reported to V8 in batches.
  int64_t pendingExternalDelta() const { return pending_; }
  void flushExternal(Napi::Env env);

 private:
  struct Slot {
    at::Tensor tensor;
    int64_t generation = 0;
    int64_t bytes = 0;
  };
  std::vector<Slot> slots_;
  std::vector<int64_t> free_;
  int64_t live_ = 0;
  int64_t pending_ = 0;
};

TensorTable& table();

// Thrown for mistakes the addon detects itself (bad handle, wrong argument
// kind); converted to a JavaScript TypeError or Error by NL_GUARD.
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string describe(const at::Tensor& t);
std::string dtypeName(at::ScalarType s);

int64_t readInt(const Napi::Value& v, const char* what);
double readDouble(const Napi::Value& v, const char* what);
bool readBool(const Napi::Value& v, const char* what);
const at::Tensor& readTensor(const Napi::Value& v, const char* what);
std::vector<int64_t> readIntList(const Napi::Value& v, const char* what);
// An array of tensors; with allowNull, null and undefined become undefined tensors.
std::vector<at::Tensor> readTensorList(const Napi::Value& v, const char* what, bool allowNull);
at::Scalar readScalar(const Napi::Value& v, const char* what);
Napi::Value wrap(Napi::Env env, at::Tensor t);

// Runs `body`, turning every C++ exception into a JavaScript exception whose
// message starts with `name` (when not empty).
template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, const char* name, F&& body) {
  Napi::Env env = info.Env();
  auto prefixed = [name](const std::string& reason) { return *name ? std::string(name) + ": " + reason : reason; };
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, prefixed(e.what_without_backtrace()));
  } catch (const ArgError& e) {
    throw Napi::TypeError::New(env, prefixed(e.what()));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, prefixed(e.what()));
  } catch (...) {
    throw Napi::Error::New(env, prefixed("unknown native error"));
  }
}

void initOps(Napi::Env env, Napi::Object exports);
void initAutograd(Napi::Env env, Napi::Object exports);
void initDistributed(Napi::Env env, Napi::Object exports);

}  // namespace netlab
