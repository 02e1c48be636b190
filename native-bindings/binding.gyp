# Built by `npm ci` / `npm install` through the package's "install" script
# (node-gyp rebuild --directory native-bindings). No -std flag here on purpose:
# node-gyp's common.gypi already compiles with -std=gnu++17, which Node 20's
# headers need (an explicit -std=c++11 is what breaks mmap-io on Node 20).
{
  "targets": [
    {
      "target_name": "dledger_mmap",
      "sources": ["src/dledger_mmap.cc"],
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"],
      # Never unload this library: mappings outlive the environment that made them (a worker's
      # isolate frees its SharedArrayBuffers after Node has dlclose'd the worker's addons), and
      # their munmap deleter is code in this library. Without it, a worker that loaded the addon
      # alone and exits holding a mapping crashes the process (SIGSEGV in ~BackingStore).
      "ldflags": ["-Wl,-z,nodelete"]
    }
  ]
}
