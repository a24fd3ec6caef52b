#include <kcr/xstate.h>

#include <array>

namespace kcr {

std::string XFeatureNames(uint64_t xcr0) {
  // Intel SDM vol. 1, 13.1: state components by bit.
  static constexpr std::array<const char*, 19> kNames = {"x87",
                                                         "sse",
                                                         "avx",
                                                         "mpx-bndregs",
                                                         "mpx-bndcsr",
                                                         "avx512-opmask",
                                                         "avx512-zmm_hi256",
                                                         "avx512-hi16_zmm",
                                                         "pt",
                                                         "pkru",
                                                         "pasid",
                                                         "cet-u",
                                                         "cet-s",
                                                         "hdc",
                                                         "uintr",
                                                         "lbr",
                                                         "hwp",
                                                         "amx-tilecfg",
                                                         "amx-tiledata"};
  std::string out;
  for (size_t bit = 0; bit < 64; bit++) {
    if (!(xcr0 & (uint64_t{1} << bit)))
      continue;
    if (!out.empty())
      out += ' ';
    out += bit < kNames.size() ? kNames[bit] : "bit" + std::to_string(bit);
  }
  return out.empty() ? "none" : out;
}

}  // namespace kcr
