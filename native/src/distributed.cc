// torch.distributed's engine, c10d, reached from JavaScript: the TCP and file
// stores, the Gloo process group and its collectives, and DDP's gradient
// Reducer. Rendezvous follows torch.distributed.init_process_group in torch
// 1.13 step by step (the store, the "default_pg" and group-name prefixes, the
// store-based barrier), so NetLab and PyTorch processes can join one group.
//
// Anything that can wait on another process — rendezvous, Work::wait — runs
// on libuv's thread pool behind a Promise; collectives themselves run on
// Gloo's own threads. Nothing here blocks Node's event loop except the two
// calls DDP makes synchronously, as PyTorch's DDP does (the parameter
// broadcast at construction, the buffer broadcast before a forward pass).
#include "common.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupWrapper.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <thread>

namespace netlab {
namespace {

using std::chrono::milliseconds;

// Hands completed collectives from Gloo's threads to the main thread: one
// thread-safe function per group, referenced (keeping Node alive) only while
// some wait is pending, so a collective costs no handle of its own.
struct Waiter {
  Napi::ThreadSafeFunction tsfn;
  int pending = 0;  // touched on the main thread only
  ~Waiter() { tsfn.Release(); }
};

struct Group {
  std::shared_ptr<Waiter> waiter;
  c10::intrusive_ptr<c10d::Store> store;  // the "default_pg"-prefixed store
  // The Gloo group, or under TORCH_DISTRIBUTED_DEBUG=DETAIL PyTorch's
  // ProcessGroupWrapper around it, which checks before every collective that
  // all ranks run the same one on tensors of the same shapes and dtypes.
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  int rank = 0;
  int size = 0;
};

struct Pending {
  c10::intrusive_ptr<c10d::Work> work;
  std::shared_ptr<Waiter> waiter;
};

struct DdpReducer {
  std::unique_ptr<c10d::Reducer> reducer;
};

template <typename T>
T& unbox(const Napi::Value& v, const char* what) {
  if (!v.IsExternal()) throw ArgError(std::string(what) + " is not a native handle");
  T* p = v.As<Napi::External<T>>().Data();
  if (p == nullptr) throw ArgError(std::string(what) + " is not a native handle");
  return *p;
}

Group& readGroup(const Napi::Value& v) {
  Group& g = unbox<Group>(v, "process group");
  if (!g.pg) throw ArgError("the process group was destroyed");
  return g;
}

template <typename T>
Napi::Value box(Napi::Env env, T* p) {
  return Napi::External<T>::New(env, p, [](Napi::Env, T* q) { delete q; });
}

// Runs `body` on the thread pool; the Promise resolves with `done()`'s value
// on the main thread, or rejects with the error `body` threw.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::function<void()> body, std::function<Napi::Value(Napi::Env)> done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), body_(std::move(body)), done_(std::move(done)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      body_();
    } catch (const c10::Error& e) {
      SetError(e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(done_(env));
    } catch (const std::exception& e) {
      deferred_.Reject(Napi::Error::New(env, e.what()).Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> body_;
  std::function<Napi::Value(Napi::Env)> done_;
};

Napi::Value runAsync(Napi::Env env, std::function<void()> body, std::function<Napi::Value(Napi::Env)> done) {
  auto* worker = new PromiseWorker(env, std::move(body), std::move(done));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

std::string readString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw ArgError(std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// The Gloo devices torch.distributed's ProcessGroupGloo binding chooses: one
// per interface named in GLOO_SOCKET_IFNAME (comma-separated), else the one
// the host name resolves to.
std::vector<std::shared_ptr<gloo::transport::Device>> glooDevices() {
  std::vector<std::shared_ptr<gloo::transport::Device>> devices;
  const char* names = std::getenv("GLOO_SOCKET_IFNAME");
  if (names != nullptr && std::string(names).size() > 1) {
    std::stringstream list(names);
    std::string name;
    while (std::getline(list, name, ','))
      if (!name.empty()) devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  } else {
    devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return devices;
}

// torch.distributed's _store_based_barrier: every rank adds 1 to the key,
// then polls until the count reaches the world size.
void storeBarrier(c10d::Store& store, int size, milliseconds timeout, int rank) {
  const std::string key = "store_based_barrier_key:1";
  store.add(key, 1);
  auto start = std::chrono::steady_clock::now();
  int64_t count = store.add(key, 0);
  while (count != size) {
    if (std::chrono::steady_clock::now() - start > timeout) {
      throw std::runtime_error("rank " + std::to_string(rank) + " timed out after " + std::to_string(timeout.count() / 1000.0) +
                               " s waiting for all " + std::to_string(size) + " ranks to join (" + std::to_string(count) + " joined)");
    }
    std::this_thread::sleep_for(milliseconds(10));
    count = store.add(key, 0);
  }
}

// initProcessGroup({ store: 'tcp'|'file', host, port, path, rank, worldSize, timeoutMs }) -> Promise<group>
Napi::Value InitProcessGroup(const Napi::CallbackInfo& info) {
  return guard(info, "initProcessGroup", [&]() -> Napi::Value {
    if (!info[0].IsObject()) throw ArgError("options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    std::string kind = readString(o, "store");
    int rank = static_cast<int>(readInt(o.Get("rank"), "rank"));
    int size = static_cast<int>(readInt(o.Get("worldSize"), "worldSize"));
    milliseconds timeout(readInt(o.Get("timeoutMs"), "timeoutMs"));
    std::string host, path;
    uint16_t port = 0;
    if (kind == "tcp") {
      host = readString(o, "host");
      port = static_cast<uint16_t>(readInt(o.Get("port"), "port"));
    } else if (kind == "file") {
      path = readString(o, "path");
    } else {
      throw ArgError("unknown store '" + kind + "'");
    }
    auto group = std::make_shared<Group>();
    group->rank = rank;
    group->size = size;
    auto body = [=]() {
      c10::intrusive_ptr<c10d::Store> store;
      if (kind == "tcp") {
        c10d::TCPStoreOptions opts;
        opts.port = port;
        opts.isServer = rank == 0;
        opts.numWorkers = static_cast<size_t>(size);
        opts.waitWorkers = true;
        opts.timeout = timeout;
        opts.multiTenant = true;
        store = c10::make_intrusive<c10d::TCPStore>(host, opts);
      } else {
        store = c10::make_intrusive<c10d::FileStore>(path, size);
      }
      store->setTimeout(timeout);
      auto defaultPg = c10::make_intrusive<c10d::PrefixStore>("default_pg", store);
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices = glooDevices();
      options->threads = static_cast<int>(options->devices.size() * 2);
      auto groupStore = c10::make_intrusive<c10d::PrefixStore>("0", defaultPg);
      auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(groupStore, rank, size, options);
      group->pg = gloo;
      const char* debug = std::getenv("TORCH_DISTRIBUTED_DEBUG");
      if (debug != nullptr && std::string(debug) == "DETAIL") {
        // As torch.distributed's _create_process_group_wrapper.
        auto helperStore = c10::make_intrusive<c10d::PrefixStore>("pg_wrapper:0", defaultPg);
        auto helperOptions = c10d::ProcessGroupGloo::Options::create(timeout);
        helperOptions->devices = glooDevices();
        helperOptions->threads = static_cast<int>(helperOptions->devices.size() * 2);
        auto helper = c10::make_intrusive<c10d::ProcessGroupGloo>(helperStore, rank, size, helperOptions);
        group->pg = c10::make_intrusive<c10d::ProcessGroupWrapper>(gloo, helper);
      }
      storeBarrier(*defaultPg, size, timeout, rank);
      gloo->setSequenceNumberForGroup();
      group->store = defaultPg;
    };
    return runAsync(info.Env(), body, [group](Napi::Env env) {
      auto* g = new Group(*group);
      g->waiter = std::make_shared<Waiter>();
      g->waiter->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "netlab.distributed", 0, 1);
      g->waiter->tsfn.Unref(env);
      return box(env, g);
    });
  });
}

Napi::Value DestroyProcessGroup(const Napi::CallbackInfo& info) {
  return guard(info, "destroyProcessGroup", [&]() -> Napi::Value {
    Group& g = unbox<Group>(info[0], "process group");
    g.pg.reset();
    g.store.reset();
    return info.Env().Undefined();
  });
}

c10d::ReduceOp readReduceOp(const Napi::Value& v) {
  int64_t code = readInt(v, "op");
  switch (code) {
    case 0: return c10d::ReduceOp(c10d::ReduceOp::SUM);
    case 1: return c10d::ReduceOp(c10d::ReduceOp::AVG);
    case 2: return c10d::ReduceOp(c10d::ReduceOp::PRODUCT);
    case 3: return c10d::ReduceOp(c10d::ReduceOp::MIN);
    case 4: return c10d::ReduceOp(c10d::ReduceOp::MAX);
    default: throw ArgError("unknown reduce op code " + std::to_string(code));
  }
}

// A tensor a collective reads or writes in place: dense and contiguous, as
// Gloo addresses its memory directly.
at::Tensor readDense(const Napi::Value& v, const char* what) {
  const at::Tensor& t = readTensor(v, what);
  if (!t.is_contiguous()) throw ArgError(std::string(what) + " " + describe(t) + " is not contiguous; collectives work in place on contiguous tensors");
  if (t.is_sparse()) throw ArgError(std::string(what) + " is sparse; collectives here take dense tensors");
  return t;
}

std::vector<at::Tensor> readDenseList(const Napi::Value& v, const char* what) {
  std::vector<at::Tensor> out = readTensorList(v, what, false);
  for (const at::Tensor& t : out)
    if (!t.is_contiguous()) throw ArgError(std::string(what) + ": " + describe(t) + " is not contiguous; collectives work in place on contiguous tensors");
  return out;
}

Napi::Value wrapWork(Napi::Env env, const Group& g, c10::intrusive_ptr<c10d::Work> work) { return box(env, new Pending{std::move(work), g.waiter}); }

// allReduce(group, tensor, op) -> work
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  return guard(info, "allReduce", [&]() -> Napi::Value {
    Group& g = readGroup(info[0]);
    std::vector<at::Tensor> tensors{readDense(info[1], "tensor")};
    c10d::AllreduceOptions opts;
    opts.reduceOp = readReduceOp(info[2]);
    return wrapWork(info.Env(), g, g.pg->allreduce(tensors, opts));
  });
}

// broadcast(group, tensor, src) -> work
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  return guard(info, "broadcast", [&]() -> Napi::Value {
    Group& g = readGroup(info[0]);
    std::vector<at::Tensor> tensors{readDense(info[1], "tensor")};
    c10d::BroadcastOptions opts;
    opts.rootRank = readInt(info[2], "src");
    return wrapWork(info.Env(), g, g.pg->broadcast(tensors, opts));
  });
}

// allGather(group, outputs, input) -> work
Napi::Value AllGather(const Napi::CallbackInfo& info) {
  return guard(info, "allGather", [&]() -> Napi::Value {
    Group& g = readGroup(info[0]);
    std::vector<std::vector<at::Tensor>> outputs{readDenseList(info[1], "outputList")};
    std::vector<at::Tensor> inputs{readDense(info[2], "input")};
    return wrapWork(info.Env(), g, g.pg->allgather(outputs, inputs));
  });
}

// reduceScatter(group, output, inputs, op) -> work
Napi::Value ReduceScatter(const Napi::CallbackInfo& info) {
  return guard(info, "reduceScatter", [&]() -> Napi::Value {
    Group& g = readGroup(info[0]);
    std::vector<at::Tensor> outputs{readDense(info[1], "output")};
    std::vector<std::vector<at::Tensor>> inputs{readDenseList(info[2], "inputList")};
    c10d::ReduceScatterOptions opts;
    opts.reduceOp = readReduceOp(info[3]);
    return wrapWork(info.Env(), g, g.pg->reduce_scatter(outputs, inputs, opts));
  });
}

// barrier(group) -> work
Napi::Value Barrier(const Napi::CallbackInfo& info) {
  return guard(info, "barrier", [&]() -> Napi::Value {
    Group& g = readGroup(info[0]);
    return wrapWork(info.Env(), g, g.pg->barrier());
  });
}

// waitWork(work) -> Promise<void>, rejected with the collective's error. The
// work's future calls back on the Gloo thread that completes it, which hands
// the outcome to the main thread; no thread waits in between.
Napi::Value WaitWork(const Napi::CallbackInfo& info) {
  return guard(info, "wait", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Pending& p = unbox<Pending>(info[0], "work");
    std::shared_ptr<Waiter> waiter = p.waiter;
    auto deferred = std::make_shared<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
    if (waiter->pending++ == 0) waiter->tsfn.Ref(env);
    auto settle = [deferred, waiter](Napi::Env env, Napi::Function, std::string* error) {
      if (--waiter->pending == 0) waiter->tsfn.Unref(env);
      if (error == nullptr) {
        deferred->Resolve(env.Undefined());
      } else {
        deferred->Reject(Napi::Error::New(env, *error).Value());
        delete error;
      }
    };
    p.work->getFuture()->addCallback([waiter, settle](c10::ivalue::Future& future) {
      std::string* error = future.hasError() ? new std::string(future.tryRetrieveErrorMessage()) : nullptr;
      if (waiter->tsfn.BlockingCall(error, [settle](Napi::Env env, Napi::Function fn, std::string* e) { settle(env, fn, e); }) != napi_ok) delete error;
    });
    return deferred->Promise();
  });
}

Napi::Value WorkCompleted(const Napi::CallbackInfo& info) {
  return guard(info, "isCompleted", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), unbox<Pending>(info[0], "work").work->isCompleted());
  });
}

// broadcastCoalesced(group, tensors, bufferBytes, src): blocks until done, as
// DDP's parameter and buffer broadcasts do in PyTorch.
Napi::Value BroadcastCoalesced(const Napi::CallbackInfo& info) {
  return guard(info, "broadcastCoalesced", [&]() -> Napi::Value {
    Group& g = readGroup(info[0]);
    std::vector<at::Tensor> tensors = readTensorList(info[1], "tensors", false);
    size_t bytes = static_cast<size_t>(readInt(info[2], "bufferBytes"));
    int src = static_cast<int>(readInt(info[3], "src"));
    at::NoGradGuard noGrad;
    c10d::broadcast_coalesced(g.pg, tensors, bytes, src);
    return info.Env().Undefined();
  });
}

// verifyParams(group, params): the same number, shapes and dtypes on every rank.
Napi::Value VerifyParams(const Napi::CallbackInfo& info) {
  return guard(info, "verifyParams", [&]() -> Napi::Value {
    Group& g = readGroup(info[0]);
    c10d::verify_params_across_processes(g.pg, readTensorList(info[1], "params", false), c10::nullopt);
    return info.Env().Undefined();
  });
}

// reducer(group, params, bucketBytes, findUnused): PyTorch DDP's Reducer with
// its bucket assignment (a first bucket of 1 MiB, then bucketBytes each, in
// reverse parameter order, as DistributedDataParallel builds it).
Napi::Value NewReducer(const Napi::CallbackInfo& info) {
  return guard(info, "DistributedDataParallel", [&]() -> Napi::Value {
    Group& g = readGroup(info[0]);
    std::vector<at::Tensor> params = readTensorList(info[1], "params", false);
    int64_t bucketBytes = readInt(info[2], "bucketBytes");
    bool findUnused = readBool(info[3], "findUnusedParameters");
    const int64_t firstBucketBytes = 1024 * 1024;
    std::vector<bool> sparse(params.size(), false);
    auto assignment = c10d::compute_bucket_assignment_by_size(
        params, {static_cast<size_t>(firstBucketBytes), static_cast<size_t>(bucketBytes)}, sparse);
    std::vector<std::vector<size_t>> buckets(std::get<0>(assignment).rbegin(), std::get<0>(assignment).rend());
    std::vector<size_t> limits(std::get<1>(assignment).rbegin(), std::get<1>(assignment).rend());
    std::unordered_map<size_t, std::string> names;
    auto* r = new DdpReducer();
    try {
      r->reducer = std::make_unique<c10d::Reducer>(params, buckets, limits, g.pg, sparse, bucketBytes, findUnused, false, names, firstBucketBytes);
    } catch (...) {
      delete r;
      throw;
    }
    return Napi::External<DdpReducer>::New(info.Env(), r, [](Napi::Env, DdpReducer* q) {
      try {
        delete q;
      } catch (...) {
        // ~Reducer may throw (it is noexcept(false)); a finalizer must not.
      }
    });
  });
}

c10d::Reducer& readReducer(const Napi::Value& v) {
  DdpReducer& r = unbox<DdpReducer>(v, "reducer");
  if (!r.reducer) throw ArgError("the DistributedDataParallel wrapper was disposed");
  return *r.reducer;
}

Napi::Value ReducerPrepareForForward(const Napi::CallbackInfo& info) {
  return guard(info, "DistributedDataParallel.forward", [&]() -> Napi::Value {
    readReducer(info[0]).prepare_for_forward();
    return info.Env().Undefined();
  });
}

Napi::Value ReducerPrepareForBackward(const Napi::CallbackInfo& info) {
  return guard(info, "DistributedDataParallel.forward", [&]() -> Napi::Value {
    readReducer(info[0]).prepare_for_backward(readTensorList(info[1], "outputs", false));
    return info.Env().Undefined();
  });
}

Napi::Value ReducerRebuildBuckets(const Napi::CallbackInfo& info) {
  return guard(info, "DistributedDataParallel.forward", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), readReducer(info[0]).rebuild_buckets());
  });
}

Napi::Value ReducerDispose(const Napi::CallbackInfo& info) {
  return guard(info, "DistributedDataParallel.dispose", [&]() -> Napi::Value {
    DdpReducer& r = unbox<DdpReducer>(info[0], "reducer");
    std::unique_ptr<c10d::Reducer> gone = std::move(r.reducer);
    gone.reset();
    return info.Env().Undefined();
  });
}

}  // namespace

void initDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("distInit", Napi::Function::New(env, InitProcessGroup));
  exports.Set("distDestroy", Napi::Function::New(env, DestroyProcessGroup));
  exports.Set("distAllReduce", Napi::Function::New(env, AllReduce));
  exports.Set("distBroadcast", Napi::Function::New(env, Broadcast));
  exports.Set("distAllGather", Napi::Function::New(env, AllGather));
  exports.Set("distReduceScatter", Napi::Function::New(env, ReduceScatter));
  exports.Set("distBarrier", Napi::Function::New(env, Barrier));
  exports.Set("distWait", Napi::Function::New(env, WaitWork));
  exports.Set("distCompleted", Napi::Function::New(env, WorkCompleted));
  exports.Set("distBroadcastCoalesced", Napi::Function::New(env, BroadcastCoalesced));
  exports.Set("distVerifyParams", Napi::Function::New(env, VerifyParams));
  exports.Set("ddpReducer", Napi::Function::New(env, NewReducer));
  exports.Set("ddpPrepareForForward", Napi::Function::New(env, ReducerPrepareForForward));
  exports.Set("ddpPrepareForBackward", Napi::Function::New(env, ReducerPrepareForBackward));
  exports.Set("ddpRebuildBuckets", Napi::Function::New(env, ReducerRebuildBuckets));
  exports.Set("ddpDispose", Napi::Function::New(env, ReducerDispose));
}

}  // namespace netlab
