// The C API of include/kcr/kcr.h over the C++ implementation.
#include <kcr/checkpoint.h>
#include <kcr/device.h>
#include <kcr/export.h>
#include <kcr/image.h>
#include <kcr/kcr.h>
#include <kcr/restart.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "callbacks.h"

struct kcr_image {
  std::unique_ptr<kcr::Image> image;
};

namespace {

kcr_checkpoint_result ToC(const kcr::CheckpointResult& r) {
  return {r.image_bytes, r.pages_saved, r.freeze_ns, r.write_ns, r.sync_ns, r.header_checksum};
}

int Report(const kcr::Status& st, kcr_error* err) {
  if (err) {
    err->code = st.code();
    std::snprintf(err->message, sizeof(err->message), "%s", st.message().c_str());
  }
  return st.code();
}

kcr::CheckpointOptions FromC(const kcr_checkpoint_options* options) {
  kcr::CheckpointOptions o;
  if (options) {
    o.kill = options->kill != 0;
    o.stop = options->stop != 0;
    o.privileged = options->privileged != 0;
    if (options->progress) {
      o.progress = [fn = options->progress, arg = options->progress_arg](uint64_t d, uint64_t t) {
        fn(d, t, arg);
      };
    }
  }
  return o;
}

}  // namespace

extern "C" {

KCR_EXPORT int kcr_module_query(kcr_module_info* info, kcr_error* err) {
  kcr::UniqueFd device;
  kcr::Status st = kcr::OpenDevice(&device);
  kcr_version v{};
  if (st.ok())
    st = kcr::QueryVersion(device.get(), &v);
  if (st.ok() && info) {
    info->abi_version = v.abi_version;
    info->image_version = v.image_version;
    info->xstate_size = v.xstate_size;
    info->xfeatures = v.xfeatures;
    std::memcpy(info->release, v.release, sizeof(info->release));
    std::memcpy(info->kversion, v.kversion, sizeof(info->kversion));
  }
  return Report(st, err);
}

KCR_EXPORT int kcr_checkpoint(pid_t pid, const char* path, const kcr_checkpoint_options* options,
                              kcr_checkpoint_result* result, kcr_error* err) {
  kcr::CheckpointOptions o = FromC(options);
  kcr::CheckpointResult r;
  kcr::Status st = kcr::Checkpoint(pid, path, o, &r);
  if (st.ok() && result) {
    *result = ToC(r);
  }
  return Report(st, err);
}

KCR_EXPORT int kcr_checkpoint_hold(pid_t pid, const char* path,
                                   const kcr_checkpoint_options* options,
                                   kcr_checkpoint_result* result, int* hold_fd, kcr_error* err) {
  if (!hold_fd)
    return Report(kcr::Status::Error(EINVAL, "no place for the hold descriptor"), err);
  *hold_fd = -1;
  kcr::CheckpointOptions o = FromC(options);
  kcr::UniqueFd hold;
  o.hold = &hold;
  kcr::CheckpointResult r;
  kcr::Status st = kcr::Checkpoint(pid, path, o, &r);
  if (st.ok()) {
    if (result)
      *result = ToC(r);
    *hold_fd = hold.release();
  }
  return Report(st, err);
}

KCR_EXPORT int kcr_hold_kill(int hold_fd, kcr_error* err) {
  return Report(kcr::KillHeld(hold_fd), err);
}

KCR_EXPORT int kcr_register_callback(unsigned events, kcr_callback_fn fn, void* arg,
                                     kcr_error* err) {
  if (!fn || !events)
    return Report(kcr::Status::Error(EINVAL, "no callback or no events"), err);
  return kcr::RegisterCallback(events, fn, arg);
}

KCR_EXPORT int kcr_unregister_callback(int id) {
  return kcr::UnregisterCallback(id) ? 0 : -ENOENT;
}

KCR_EXPORT int kcr_checkpoint_self(const char* path, kcr_checkpoint_result* result,
                                   kcr_error* err) {
  bool restarted = false;
  kcr::CheckpointResult r;
  kcr::Status st = kcr::CheckpointSelf(path, &r, &restarted);
  if (!st.ok())
    return Report(st, err);
  if (result && !restarted) {
    *result = ToC(r);
  }
  return restarted ? 1 : 0;
}

KCR_EXPORT int kcr_restart(const char* path, const kcr_restart_options* options, kcr_error* err) {
  kcr::RestartOptions o;
  if (options) {
    o.rollback_files = options->rollback_files != 0;
    o.skip_verify = options->skip_verify != 0;
  }
  return Report(kcr::Restart(path, o), err);
}

KCR_EXPORT kcr_image* kcr_image_open(const char* path, kcr_error* err) {
  auto handle = std::make_unique<kcr_image>();
  kcr::Status st = kcr::Image::Open(path, &handle->image);
  if (!st.ok()) {
    Report(st, err);
    return nullptr;
  }
  return handle.release();
}

KCR_EXPORT void kcr_image_close(kcr_image* image) {
  delete image;
}

KCR_EXPORT int kcr_image_summary_get(const kcr_image* image, kcr_image_summary* out) {
  if (!image || !out)
    return -EINVAL;
  const kcr_image_header& h = image->image->header();
  std::memset(out, 0, sizeof(*out));
  out->version = h.version;
  out->pid = h.pid;
  out->uid = h.uid;
  out->gid = h.gid;
  std::memcpy(out->comm, h.comm, sizeof(out->comm));
  std::memcpy(out->release, h.release, sizeof(out->release));
  std::memcpy(out->kversion, h.kversion, sizeof(out->kversion));
  out->created_ns = h.created_ns;
  out->image_bytes = h.image_bytes;
  out->pages_saved = h.pages_saved;
  out->nr_vmas = static_cast<uint32_t>(image->image->vmas().size());
  out->nr_files = static_cast<uint32_t>(image->image->fds().size());
  out->header_checksum = h.checksum;
  return 0;
}

KCR_EXPORT int kcr_image_verify(const kcr_image* image, kcr_error* err) {
  if (!image)
    return Report(kcr::Status::Error(EINVAL, "no image"), err);
  return Report(image->image->VerifyPages(), err);
}

KCR_EXPORT char* kcr_image_describe_json(const kcr_image* image) {
  if (!image)
    return nullptr;
  return ::strdup(image->image->DescribeJson().c_str());
}

KCR_EXPORT const char* kcr_strerror(int code) {
  return std::strerror(code < 0 ? -code : code);
}

}  // extern "C"
