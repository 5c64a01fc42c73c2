{
  "targets": [
    {
      "target_name": "netlab",
      "sources": ["src/addon.cc", "src/common.cc", "src/ops.cc", "src/autograd.cc", "src/distributed.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++20", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-frtti", "-Wno-unused-parameter", "-idirafter", "<(module_root_dir)/shim", "<!@(node find-libtorch.mjs cflags)"],
      "ldflags": ["<!@(node find-libtorch.mjs ldflags)"],
      "libraries": ["<!@(node find-libtorch.mjs libs)"],
      "defines": ["NAPI_VERSION=8", "USE_C10D_GLOO"]
    }
  ]
}
