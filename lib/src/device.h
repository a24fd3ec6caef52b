// The /dev/kcr device: opening it with a clear reason when it is not there,
// the version handshake, and the raw ioctls.
#pragma once

#include <kcr_uapi.h>

#include "status.h"
#include "unique_fd.h"

namespace kcr {

// Opens /dev/kcr and checks the module's ABI version matches this library's.
Status OpenDevice(UniqueFd* device);
Status QueryVersion(int device_fd, kcr_version* version);

}  // namespace kcr
