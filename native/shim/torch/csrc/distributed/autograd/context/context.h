// Debian's libtorch-dev ships c10d's headers but not those of distributed
// autograd (RPC), which c10d/reducer.hpp includes for two names alone: the
// context's pointer type, held by the Reducer as an opaque shared_ptr, and
// its gradient-callback type. NetLab never uses RPC, so these declarations
// stand in for the missing header. The build searches this folder last
// (-idirafter), so a libtorch that ships the real header (pip, pytorch.org)
// uses it instead.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
