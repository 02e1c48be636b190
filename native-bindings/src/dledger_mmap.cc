// dledger_mmap: the few syscalls the commit-log store needs that Node's fs module lacks.
//
//   map(fd, length, offset, writable)        -> SharedArrayBuffer backed by mmap(MAP_SHARED)
//   msync(sabOrView, offset, length, sync)   -> msync(MS_SYNC | MS_ASYNC) of a range
//   msyncInBackground(sabOrView, offset, length, callback)
//                                            -> msync(MS_SYNC) on the libuv thread pool; the event
//                                               loop keeps running; callback(errno) on completion
//   madvise(sabOrView, offset, length, adv)  -> madvise of a range
//   fallocate(fd, offset, length)            -> reserve disk blocks (mode 0)
//   release(sab)                             -> drop the file behind a mapping from map() now: its
//                                               pages become anonymous zero pages (MAP_FIXED), the
//                                               address range stays reserved until the GC's munmap
//   pageSize, advice constants
//
// Why the V8 API and not N-API: N-API cannot wrap foreign memory in a SharedArrayBuffer, and a
// SharedArrayBuffer is what lets several worker threads share one mapping without copying
// (an external ArrayBuffer or Buffer posted to a worker is silently copied).
//
// Why NODE_MODULE_INIT: it registers the addon as context-aware, so the main thread and any
// number of worker threads can load it at the same time. The addon keeps no global state other
// than the page size, which is the same for every thread.
//
// Lifetime: the SharedArrayBuffer's backing store owns the mapping. V8 calls UnmapDeleter once,
// when the last SharedArrayBuffer referring to the store (in any isolate) is collected; that is
// the only munmap. Closing the fd after map() is fine: the mapping holds its own file reference.
// That reference (and with it an unlinked file's blocks, and the address space) would otherwise
// live until every isolate holding the buffer ran a full GC, which a quiet worker thread may
// never do: release() drops it at once by mapping anonymous memory over the same range, so a
// stale access reads zeros instead of the file (or SIGBUS after the file was truncated). Only
// ranges map() made are accepted (a process-wide table, under a mutex: any thread may call).
//
// Errors: system call failures throw node::ErrnoException (errno, code, syscall properties) plus
// an errnoText property with strerror's text. Bad arguments throw TypeError/RangeError. The
// TypeScript wrapper (src/native/mmap.ts) validates first; the checks here are the last line
// against a bad pointer reaching the kernel or a read outside the mapping.

#include <node.h>
#include <uv.h>
#include <v8.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace dledger_mmap {

using v8::ArrayBufferView;
using v8::BackingStore;
using v8::Context;
using v8::Exception;
using v8::Function;
using v8::FunctionCallbackInfo;
using v8::Global;
using v8::HandleScope;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::Number;
using v8::Object;
using v8::SharedArrayBuffer;
using v8::String;
using v8::Value;

// Largest integer a JS number holds exactly (2^53 - 1).
constexpr double kMaxSafeInteger = 9007199254740991.0;

size_t PageSizeBytes() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

void ThrowType(Isolate* isolate, const char* message) {
  isolate->ThrowException(
      Exception::TypeError(String::NewFromUtf8(isolate, message).ToLocalChecked()));
}

void ThrowRange(Isolate* isolate, const char* message) {
  isolate->ThrowException(
      Exception::RangeError(String::NewFromUtf8(isolate, message).ToLocalChecked()));
}

void ThrowErrno(Isolate* isolate, int err, const char* syscall) {
  const char* text = strerror(err);
  Local<Value> error = node::ErrnoException(isolate, err, syscall, text);
  Local<Context> context = isolate->GetCurrentContext();
  if (error->IsObject()) {
    error.As<Object>()
        ->Set(context, String::NewFromUtf8Literal(isolate, "errnoText"),
              String::NewFromUtf8(isolate, text).ToLocalChecked())
        .Check();
  }
  isolate->ThrowException(error);
}

// Reads argument `i` as a non-negative safe integer. Returns false (with a JS exception pending)
// when it is not one.
bool ReadUint(const FunctionCallbackInfo<Value>& args, int i, const char* what, uint64_t* out) {
  Isolate* isolate = args.GetIsolate();
  if (!args[i]->IsNumber()) {
    ThrowType(isolate, what);
    return false;
  }
  double value = args[i].As<Number>()->Value();
  if (!(value >= 0) || value > kMaxSafeInteger || std::floor(value) != value) {
    ThrowRange(isolate, what);
    return false;
  }
  *out = static_cast<uint64_t>(value);
  return true;
}

bool ReadFd(const FunctionCallbackInfo<Value>& args, int i, int* out) {
  uint64_t fd;
  if (!ReadUint(args, i, "fd must be a non-negative integer", &fd)) return false;
  if (fd > INT32_MAX) {
    ThrowRange(args.GetIsolate(), "fd out of range");
    return false;
  }
  *out = static_cast<int>(fd);
  return true;
}

// The memory a range operation applies to: a SharedArrayBuffer, or any view (offset is then
// relative to the view's first byte).
struct Region {
  uint8_t* data;
  size_t lengthBytes;
};

bool ReadRegion(const FunctionCallbackInfo<Value>& args, int i, Region* out) {
  Isolate* isolate = args.GetIsolate();
  if (args[i]->IsSharedArrayBuffer()) {
    std::shared_ptr<BackingStore> store = args[i].As<SharedArrayBuffer>()->GetBackingStore();
    out->data = static_cast<uint8_t*>(store->Data());
    out->lengthBytes = store->ByteLength();
    return true;
  }
  if (args[i]->IsArrayBufferView()) {
    Local<ArrayBufferView> view = args[i].As<ArrayBufferView>();
    std::shared_ptr<BackingStore> store = view->Buffer()->GetBackingStore();
    out->data = static_cast<uint8_t*>(store->Data()) + view->ByteOffset();
    out->lengthBytes = view->ByteLength();
    return true;
  }
  ThrowType(isolate, "expected a SharedArrayBuffer or an ArrayBufferView over one");
  return false;
}

// Reads (offset, length) at args[i], args[i+1], checks they lie inside the region, and widens
// the range to whole pages (msync and madvise need a page-aligned address). The widened range
// stays inside the mapping because mappings start on a page boundary and the kernel maps whole
// pages; a view that does not start on a page is widened to the page holding its first byte,
// which still belongs to the same mapping when the view is over a mapping from map().
bool ReadPageRange(const FunctionCallbackInfo<Value>& args, int i, const Region& region,
                   uint8_t** start, size_t* lengthBytes) {
  uint64_t offset, length;
  if (!ReadUint(args, i, "offset must be a non-negative integer", &offset)) return false;
  if (!ReadUint(args, i + 1, "length must be a non-negative integer", &length)) return false;
  if (offset > region.lengthBytes || length > region.lengthBytes - offset) {
    ThrowRange(args.GetIsolate(), "offset + length is beyond the end of the mapping");
    return false;
  }
  uintptr_t first = reinterpret_cast<uintptr_t>(region.data) + offset;
  uintptr_t aligned = first & ~(static_cast<uintptr_t>(PageSizeBytes()) - 1);
  *start = reinterpret_cast<uint8_t*>(aligned);
  *lengthBytes = static_cast<size_t>(length + (first - aligned));
  return true;
}

// Invariant: holds every live range map() returned (address -> length, released or not), and
// nothing else; entries leave in UnmapDeleter, right before the munmap.
std::mutex liveMappingsMutex;
std::unordered_map<void*, size_t>& LiveMappings() {
  static auto* live = new std::unordered_map<void*, size_t>();
  return *live;
}

void UnmapDeleter(void* data, size_t length, void* /*deleter_data*/) {
  {
    std::lock_guard<std::mutex> lock(liveMappingsMutex);
    LiveMappings().erase(data);
  }
  // Nothing useful can be done with a failure here (the address range came from mmap with this
  // exact length), and this runs inside the garbage collector.
  munmap(data, length);
}

// release(sab): the SharedArrayBuffer must be one map() returned (the whole mapping). Its range
// is replaced by anonymous, private, read-write zero pages with no swap reserved, atomically
// (MAP_FIXED): the file reference is dropped now; the range itself is unmapped by the GC as before.
// Releasing twice is harmless. Dirty pages already written through the mapping stay in the page
// cache (the kernel keeps them when a shared mapping goes away) and are written back as usual.
void Release(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsSharedArrayBuffer()) return ThrowType(isolate, "release: expected a SharedArrayBuffer returned by map()");
  std::shared_ptr<BackingStore> store = args[0].As<SharedArrayBuffer>()->GetBackingStore();
  void* data = store->Data();
  size_t length = store->ByteLength();
  std::lock_guard<std::mutex> lock(liveMappingsMutex);
  auto found = LiveMappings().find(data);
  if (found == LiveMappings().end() || found->second != length) {
    return ThrowType(isolate, "release: the SharedArrayBuffer is not a mapping made by map()");
  }
  void* addr = mmap(data, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (addr == MAP_FAILED) return ThrowErrno(isolate, errno, "mmap");
}

// map(fd, length, offset, writable) -> SharedArrayBuffer
void Map(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd;
  uint64_t length, offset;
  if (!ReadFd(args, 0, &fd)) return;
  if (!ReadUint(args, 1, "length must be a non-negative integer", &length)) return;
  if (!ReadUint(args, 2, "offset must be a non-negative integer", &offset)) return;
  if (length == 0) return ThrowRange(isolate, "length must be > 0");
  if (offset % PageSizeBytes() != 0) return ThrowRange(isolate, "offset must be a multiple of the page size");
  if (!args[3]->IsBoolean()) return ThrowType(isolate, "writable must be a boolean");
  bool writable = args[3]->IsTrue();

  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* addr = mmap(nullptr, static_cast<size_t>(length), prot, MAP_SHARED, fd,
                    static_cast<off_t>(offset));
  if (addr == MAP_FAILED) return ThrowErrno(isolate, errno, "mmap");
  {
    std::lock_guard<std::mutex> lock(liveMappingsMutex);
    LiveMappings()[addr] = static_cast<size_t>(length);
  }

  std::unique_ptr<BackingStore> store = SharedArrayBuffer::NewBackingStore(
      addr, static_cast<size_t>(length), UnmapDeleter, nullptr);
  Local<SharedArrayBuffer> sab = SharedArrayBuffer::New(isolate, std::move(store));
  args.GetReturnValue().Set(sab);
}

// msync(sabOrView, offset, length, sync)
void Msync(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Region region;
  if (!ReadRegion(args, 0, &region)) return;
  uint8_t* start;
  size_t length;
  if (!ReadPageRange(args, 1, region, &start, &length)) return;
  if (!args[3]->IsBoolean()) return ThrowType(isolate, "sync must be a boolean");
  if (length == 0) return;
  int flags = args[3]->IsTrue() ? MS_SYNC : MS_ASYNC;
  if (msync(start, length, flags) != 0) return ThrowErrno(isolate, errno, "msync");
}

// Per-environment (main thread or one worker) state of background work. A worker that is
// terminated while a uv_queue_work request is in flight would close its event loop with an
// active request, which Node treats as fatal (CheckedUvLoopClose aborts the whole process). So the
// environment's cleanup hook runs the loop until every in-flight msync has finished, and
// completions that arrive during cleanup free their request without calling into JavaScript.
struct AddonState {
  uv_loop_t* loop;
  // Invariant: the number of queued BackgroundMsync requests whose after-work has not yet run.
  int inFlight = 0;
  bool cleaningUp = false;
};

void CleanupAddonState(void* arg) {
  auto* state = static_cast<AddonState*>(arg);
  state->cleaningUp = true;
  while (state->inFlight > 0) uv_run(state->loop, UV_RUN_ONCE);
  delete state;
}

// One msync on the thread pool. The shared_ptr keeps the mapping alive (no munmap) until the
// work is done, even if every SharedArrayBuffer over it is collected meanwhile.
struct BackgroundMsync {
  uv_work_t request;
  AddonState* state;
  std::shared_ptr<BackingStore> store;
  uint8_t* start;
  size_t lengthBytes;
  int error;
  Isolate* isolate;
  Global<Function> callback;
};

// msyncInBackground(sabOrView, offset, length, callback(errno))
// Why: a device flush takes 0.2-3 ms here; done on the event-loop thread it stalls every socket
// of the node for that long. On the pool, appends keep arriving and the next flush covers them.
void MsyncInBackground(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  auto* state = static_cast<AddonState*>(args.Data().As<v8::External>()->Value());
  Region region;
  if (!ReadRegion(args, 0, &region)) return;
  uint8_t* start;
  size_t length;
  if (!ReadPageRange(args, 1, region, &start, &length)) return;
  if (!args[3]->IsFunction()) return ThrowType(isolate, "callback must be a function");
  std::shared_ptr<BackingStore> store = args[0]->IsSharedArrayBuffer()
      ? args[0].As<SharedArrayBuffer>()->GetBackingStore()
      : args[0].As<ArrayBufferView>()->Buffer()->GetBackingStore();
  auto* work = new BackgroundMsync();
  work->request.data = work;
  work->state = state;
  work->store = std::move(store);
  work->start = start;
  work->lengthBytes = length;
  work->error = 0;
  work->isolate = isolate;
  work->callback.Reset(isolate, args[3].As<Function>());
  int rc = uv_queue_work(
      state->loop, &work->request,
      [](uv_work_t* request) {
        auto* w = static_cast<BackgroundMsync*>(request->data);
        if (w->lengthBytes != 0 && msync(w->start, w->lengthBytes, MS_SYNC) != 0) w->error = errno;
      },
      [](uv_work_t* request, int status) {
        std::unique_ptr<BackgroundMsync> w(static_cast<BackgroundMsync*>(request->data));
        w->state->inFlight--;
        w->store.reset();
        // During environment cleanup JavaScript can no longer run; the request is just freed.
        if (w->state->cleaningUp) return;
        Isolate* isolate = w->isolate;
        HandleScope scope(isolate);
        Local<Function> callback = w->callback.Get(isolate);
        Local<Context> context = callback->GetCreationContextChecked();
        Context::Scope contextScope(context);
        int error = status == UV_ECANCELED ? ECANCELED : w->error;
        Local<Value> argv[] = {Integer::New(isolate, error)};
        node::MakeCallback(isolate, context->Global(), callback, 1, argv, node::async_context{0, 0});
      });
  if (rc != 0) {
    delete work;
    return ThrowErrno(isolate, -rc, "uv_queue_work");
  }
  state->inFlight++;
}

// madvise(sabOrView, offset, length, advice)
void Madvise(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Region region;
  if (!ReadRegion(args, 0, &region)) return;
  uint8_t* start;
  size_t length;
  if (!ReadPageRange(args, 1, region, &start, &length)) return;
  uint64_t advice;
  if (!ReadUint(args, 3, "advice must be one of the exported advice constants", &advice)) return;
  switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
      break;
    default:
      return ThrowRange(isolate, "advice must be one of the exported advice constants");
  }
  if (length == 0) return;
  if (madvise(start, length, static_cast<int>(advice)) != 0) {
    return ThrowErrno(isolate, errno, "madvise");
  }
}

// fallocate(fd, offset, length): allocate blocks so that later stores through a mapping cannot
// fault with SIGBUS for lack of space. Mode 0 also extends the file size when the range ends
// past it. Uses fallocate(2) and falls back to posix_fallocate (which writes zeros) only where
// the filesystem does not support it.
void Fallocate(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd;
  uint64_t offset, length;
  if (!ReadFd(args, 0, &fd)) return;
  if (!ReadUint(args, 1, "offset must be a non-negative integer", &offset)) return;
  if (!ReadUint(args, 2, "length must be a non-negative integer", &length)) return;
  if (length == 0) return ThrowRange(isolate, "length must be > 0");
  int rc;
  do {
    rc = fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return;
  int err = errno;
  if (err != EOPNOTSUPP) return ThrowErrno(isolate, err, "fallocate");
  // posix_fallocate returns the error number instead of setting errno.
  err = posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(length));
  if (err != 0) return ThrowErrno(isolate, err, "posix_fallocate");
}

void SetConstant(Local<Context> context, Local<Object> target, const char* name, double value) {
  Isolate* isolate = context->GetIsolate();
  target
      ->Set(context, String::NewFromUtf8(isolate, name).ToLocalChecked(),
            Number::New(isolate, value))
      .Check();
}

}  // namespace dledger_mmap

NODE_MODULE_INIT(/* exports, module, context */) {
  using namespace dledger_mmap;
  Isolate* isolate = context->GetIsolate();
  NODE_SET_METHOD(exports, "map", Map);
  NODE_SET_METHOD(exports, "msync", Msync);
  auto* state = new AddonState();
  state->loop = node::GetCurrentEventLoop(isolate);
  node::AddEnvironmentCleanupHook(isolate, CleanupAddonState, state);
  exports
      ->Set(context, String::NewFromUtf8Literal(isolate, "msyncInBackground"),
            v8::FunctionTemplate::New(isolate, MsyncInBackground, v8::External::New(isolate, state))
                ->GetFunction(context)
                .ToLocalChecked())
      .Check();
  NODE_SET_METHOD(exports, "madvise", Madvise);
  NODE_SET_METHOD(exports, "fallocate", Fallocate);
  NODE_SET_METHOD(exports, "release", Release);
  SetConstant(context, exports, "pageSize", static_cast<double>(PageSizeBytes()));
  Local<Object> advice = Object::New(isolate);
  SetConstant(context, advice, "normal", MADV_NORMAL);
  SetConstant(context, advice, "random", MADV_RANDOM);
  SetConstant(context, advice, "sequential", MADV_SEQUENTIAL);
  SetConstant(context, advice, "willneed", MADV_WILLNEED);
  SetConstant(context, advice, "dontneed", MADV_DONTNEED);
  exports->Set(context, String::NewFromUtf8Literal(isolate, "advice"), advice).Check();
}
