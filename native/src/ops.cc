// Any ATen operator, called through libtorch's boxed dispatcher: the schema is
// looked up once, arguments are converted by the schema's types, and the call
// goes through autograd like every call from Python does.
#include "common.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <sstream>

namespace netlab {
namespace {

struct Op {
  c10::OperatorHandle handle;
  std::string name;  // e.g. "add.Tensor", used in error messages
};

std::vector<Op>& registry() {
  static std::vector<Op> ops;
  return ops;
}

c10::IValue convert(const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg);

std::string argName(const c10::Argument& arg) { return "argument '" + arg.name() + "'"; }

c10::IValue convertList(const Napi::Value& v, const c10::TypePtr& elem, const c10::Argument& arg) {
  const std::string what = argName(arg);
  c10::TypeKind kind = elem->kind();
  if ((kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType) && v.IsNumber() && arg.N()) {
    // `int[2] kernel_size` accepts a single integer, as in Python.
    return c10::IValue(std::vector<int64_t>(*arg.N(), readInt(v, what.c_str())));
  }
  if (!v.IsArray()) throw ArgError(what + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  switch (kind) {
    case c10::TypeKind::TensorType: {
      std::vector<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(readTensor(a.Get(i), what.c_str()));
      return c10::IValue(out);
    }
    case c10::TypeKind::OptionalType: {
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < n; ++i) {
        Napi::Value e = a.Get(i);
        if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
        else out.push_back(readTensor(e, what.c_str()));
      }
      return c10::IValue(out);
    }
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: return c10::IValue(readIntList(v, what.c_str()));
    case c10::TypeKind::FloatType: {
      std::vector<double> out(n);
      for (uint32_t i = 0; i < n; ++i) out[i] = readDouble(a.Get(i), what.c_str());
      return c10::IValue(out);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (uint32_t i = 0; i < n; ++i) out.push_back(readBool(a.Get(i), what.c_str()));
      return c10::IValue(out);
    }
    default: throw ArgError(what + ": unsupported list type " + elem->str());
  }
}

c10::IValue convert(const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg) {
  const std::string what = argName(arg);
  switch (type->kind()) {
    case c10::TypeKind::TensorType: return readTensor(v, what.c_str());
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return convert(v, type->containedType(0), arg);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType: return readInt(v, what.c_str());
    case c10::TypeKind::FloatType: return readDouble(v, what.c_str());
    case c10::TypeKind::BoolType: return readBool(v, what.c_str());
    case c10::TypeKind::NumberType: return readScalar(v, what.c_str());
    case c10::TypeKind::StringType:
      if (!v.IsString()) throw ArgError(what + " must be a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) throw ArgError(what + " must be a device string such as 'cpu'");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case c10::TypeKind::ListType: return convertList(v, type->containedType(0), arg);
    default: throw ArgError(what + ": unsupported type " + type->str());
  }
}

Napi::Value fromIValue(Napi::Env env, c10::IValue&& v) {
  if (v.isTensor()) return wrap(env, std::move(v).toTensor());
  if (v.isTensorList()) {
    auto list = std::move(v).toTensorList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, wrap(env, list.get(i)));
    return out;
  }
  if (v.isNone()) return env.Null();
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isIntList()) {
    auto list = v.toIntVector();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(list[i])));
    return out;
  }
  throw ArgError("unsupported return type " + v.tagKind());
}

// Describes the tensor arguments of a failed call for its error message.
std::string describeArgs(const c10::FunctionSchema& schema, const torch::jit::Stack& stack) {
  std::ostringstream out;
  bool first = true;
  for (size_t i = 0; i < stack.size() && i < schema.arguments().size(); ++i) {
    const c10::IValue& v = stack[i];
    std::string text;
    if (v.isTensor()) text = describe(v.toTensor());
    else if (v.isTensorList()) {
      text = "[";
      auto list = v.toTensorList();
      for (size_t j = 0; j < list.size(); ++j) text += (j ? ", " : "") + describe(list.get(j));
      text += "]";
    } else if (v.isInt() || v.isDouble() || v.isBool() || v.isIntList()) {
      std::ostringstream s;
      s << v;
      text = s.str();
    } else continue;
    out << (first ? "" : ", ") << schema.arguments()[i].name() << "=" << text;
    first = false;
  }
  return out.str();
}

// resolveOp(name, overload) -> index for callOp.
Napi::Value ResolveOp(const Napi::CallbackInfo& info) {
  return guard(info, "resolveOp", [&]() -> Napi::Value {
    if (info.Length() != 2 || !info[0].IsString() || !info[1].IsString())
      throw ArgError("expected (name, overload) strings");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    std::string overload = info[1].As<Napi::String>().Utf8Value();
    auto handle = c10::Dispatcher::singleton().findSchema({"aten::" + name, overload});
    if (!handle) throw ArgError("libtorch has no operator aten::" + name + (overload.empty() ? "" : "." + overload));
    auto& ops = registry();
    ops.push_back({*handle, overload.empty() ? name : name + "." + overload});
    return Napi::Number::New(info.Env(), static_cast<double>(ops.size() - 1));
  });
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  return guard(info, "opSchema", [&]() -> Napi::Value {
    int64_t index = readInt(info[0], "op index");
    auto& ops = registry();
    if (index < 0 || index >= static_cast<int64_t>(ops.size())) throw ArgError("unknown op index");
    std::ostringstream s;
    s << ops[index].handle.schema();
    return Napi::String::New(info.Env(), s.str());
  });
}

// Shared body of callOp and callOpInPlace. Arguments after the op index are
// the schema's arguments in order; missing trailing ones take their defaults.
torch::jit::Stack runOp(const Napi::CallbackInfo& info, const Op*& opOut) {
  int64_t index = readInt(info[0], "op index");
  auto& ops = registry();
  if (index < 0 || index >= static_cast<int64_t>(ops.size())) throw ArgError("unknown op index");
  const Op& op = ops[index];
  opOut = &op;
  const c10::FunctionSchema& schema = op.handle.schema();
  const auto& args = schema.arguments();
  size_t given = info.Length() - 1;
  if (given > args.size())
    throw ArgError(op.name + ": expected at most " + std::to_string(args.size()) + " arguments, got " + std::to_string(given));
  torch::jit::Stack stack;
  stack.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    Napi::Value v = i < given ? info[i + 1] : info.Env().Undefined();
    if (v.IsUndefined() && args[i].default_value()) {
      stack.push_back(*args[i].default_value());
      continue;
    }
    if (v.IsUndefined() && args[i].type()->kind() != c10::TypeKind::OptionalType)
      throw ArgError(op.name + ": missing " + argName(args[i]));
    try {
      stack.push_back(convert(v, args[i].type(), args[i]));
    } catch (const ArgError& e) {
      throw ArgError(op.name + ": " + e.what());
    }
  }
  try {
    op.handle.callBoxed(stack);
  } catch (const c10::Error& e) {
    // The stack still holds the arguments when the kernel throws.
    throw std::runtime_error(op.name + ": " + e.what_without_backtrace() + " [" + describeArgs(schema, stack) + "]");
  } catch (const std::exception& e) {
    throw std::runtime_error(op.name + ": " + e.what() + " [" + describeArgs(schema, stack) + "]");
  }
  return stack;
}

// callOp(index, ...args) -> result, or an array of results for ops with several.
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  return guard(info, "", [&]() -> Napi::Value {
    const Op* op = nullptr;
    torch::jit::Stack stack = runOp(info, op);
    Napi::Env env = info.Env();
    if (stack.size() == 1) return fromIValue(env, std::move(stack[0]));
    Napi::Array out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); ++i) out.Set(i, fromIValue(env, std::move(stack[i])));
    return out;
  });
}

// callOpInPlace(index, ...args): for ops that return their mutated input, so
// no new handle is made for the alias.
Napi::Value CallOpInPlace(const Napi::CallbackInfo& info) {
  return guard(info, "", [&]() -> Napi::Value {
    const Op* op = nullptr;
    runOp(info, op);
    return info.Env().Undefined();
  });
}

}  // namespace

void initOps(Napi::Env env, Napi::Object exports) {
  exports.Set("resolveOp", Napi::Function::New(env, ResolveOp));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema));
  exports.Set("callOp", Napi::Function::New(env, CallOp));
  exports.Set("callOpInPlace", Napi::Function::New(env, CallOpInPlace));
}

}  // namespace netlab
