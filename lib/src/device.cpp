#include <kcr/device.h>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <kcr/util/status_format.h>
#include <cstring>

namespace kcr {

Status OpenDevice(UniqueFd* device) {
  UniqueFd fd(::open(KCR_DEVICE_PATH, O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    int e = errno;
    if (e == ENOENT) {
      struct stat st;
      bool loaded = ::stat("/sys/module/kcr", &st) == 0;
      return Status::Error(e, loaded ? "kcr module is loaded but " KCR_DEVICE_PATH
                                       " is missing; fix: check devtmpfs/udev"
                                     : "kcr module is not loaded; fix: insmod kcr.ko "
                                       "(or modprobe kcr)");
    }
    if (e == EACCES || e == EPERM) {
      return Errorf(e,
                    "cannot open {}: permission denied; the admin has restricted kcr "
                    "(module parameter dev_mode, or a udev rule giving it to a group); "
                    "fix: ask to be let in, or run as root",
                    KCR_DEVICE_PATH);
    }
    return Errorf(e, "cannot open {}: {}", KCR_DEVICE_PATH, std::strerror(e));
  }
  kcr_version v{};
  KCR_RETURN_IF_ERROR(QueryVersion(fd.get(), &v));
  if (v.abi_version != KCR_ABI_VERSION) {
    return Errorf(EPROTO,
                  "kcr module speaks ABI {} but this kcr needs ABI {}; fix: load the "
                  "kcr.ko built with this kcr",
                  v.abi_version, KCR_ABI_VERSION);
  }
  *device = std::move(fd);
  return Status::Ok();
}

Status QueryVersion(int device_fd, kcr_version* version) {
  std::memset(version, 0, sizeof(*version));
  if (::ioctl(device_fd, KCR_IOC_VERSION, version) != 0) {
    return SysError("querying the kcr module version");
  }
  return Status::Ok();
}

}  // namespace kcr
