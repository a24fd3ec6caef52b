// The /dev/kcr device: opening it with a clear reason when it is not there,
// the version handshake, and the raw ioctls.
#pragma once

#include <kcr/export.h>

#include <kcr/kcr_uapi.h>

#include <kcr/status.h>
#include <kcr/unique_fd.h>

namespace kcr {

// Opens /dev/kcr and checks the module's ABI version matches this library's.
KCR_EXPORT Status OpenDevice(UniqueFd* device);
KCR_EXPORT Status QueryVersion(int device_fd, kcr_version* version);

}  // namespace kcr
