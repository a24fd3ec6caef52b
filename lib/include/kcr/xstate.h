// Names of XSAVE state components (XCR0 bits), for `kcr check` and `inspect`.
#pragma once

#include <kcr/export.h>

#include <cstdint>
#include <string>

namespace kcr {

// "x87 sse avx avx512-opmask ..." for the bits set in xcr0.
KCR_EXPORT std::string XFeatureNames(uint64_t xcr0);

}  // namespace kcr
